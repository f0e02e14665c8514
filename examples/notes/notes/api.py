"""The JSON API: /api/notes."""

from __future__ import annotations

from flask import Blueprint, abort, request

from notes.db import get_db

bp = Blueprint("api", __name__)


@bp.get("/notes")
def list_notes() -> dict:
    rows = get_db().execute("SELECT id, text, created FROM note ORDER BY id").fetchall()
    notes = [dict(row) for row in rows]
    return {"notes": notes}


@bp.post("/notes")
def add_note() -> tuple[dict, int]:
    text = (request.get_json(silent=True) or {}).get("text", "").strip()
    if not text:
        abort(400, description="a note needs some text")
    db = get_db()
    note_id = db.execute("INSERT INTO note (text) VALUES (?)", (text,)).lastrowid
    db.commit()
    return {"id": note_id, "text": text}, 201
