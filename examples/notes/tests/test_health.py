"""GET /healthz: 200 while the database answers, 503 when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from notes import create_app


def test_healthy(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_unreachable_database_is_503(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # SQLite cannot create a file in a folder that does not exist.
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "missing" / "notes.sqlite3")})
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (503, {"status": "error"})
    assert "the database does not answer" in caplog.text
