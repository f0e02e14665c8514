"""The health path: GET /healthz, for Kubernetes' probes and the image's HEALTHCHECK."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app

from notes.db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    # A worker that answers but cannot open the database cannot serve a note:
    # report it, so the pod leaves the Service until it can.
    try:
        get_db().execute("SELECT 1").fetchone()
    except sqlite3.Error:
        current_app.logger.exception("health check: the database does not answer")
        return {"status": "error"}, 503
    return {"status": "ok"}, 200
