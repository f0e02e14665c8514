"""The HTML pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from notes.db import get_db

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    notes = get_db().execute("SELECT id, text, created FROM note ORDER BY id DESC").fetchall()
    return render_template("index.html", notes=notes)
