"""The schema: created once, with its folder; kept on later starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from notes.db import create_schema


def test_schema_is_created_with_its_folder_and_kept(tmp_path: Path) -> None:
    database = tmp_path / "data" / "notes.sqlite3"
    create_schema(str(database))
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO note (text) VALUES ('kept')")
    # prestart.sh runs at every start: an existing database keeps its notes.
    create_schema(str(database))
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT text FROM note").fetchall() == [("kept",)]
