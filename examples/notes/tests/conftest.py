"""The app under Flask's test client, on a database of its own per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notes import create_app
from notes.db import create_schema


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    database = tmp_path / "notes.sqlite3"
    create_schema(str(database))
    return create_app({"TESTING": True, "DATABASE": str(database)})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
