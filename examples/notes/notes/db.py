"""The SQLite database: one connection per request, and the schema.

``python -m notes.db`` creates the schema if it is missing (prestart.sh).
"""

from __future__ import annotations

import os
import sqlite3
import sys

from flask import Flask, current_app, g

SCHEMA = """
CREATE TABLE IF NOT EXISTS note (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""


def connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=10)
    connection.row_factory = sqlite3.Row
    return connection


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)


def create_schema(path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with connect(path) as connection:
        connection.executescript(SCHEMA)


if __name__ == "__main__":
    database = os.environ.get("NOTES_DATABASE", "/data/notes.sqlite3")
    create_schema(database)
    print(f"notes: database ready at {database}", file=sys.stderr)
