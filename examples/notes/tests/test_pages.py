"""The HTML page: the notes, newest first."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_index_without_notes_says_how_to_add_one(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "No notes yet" in response.text
    assert "/api/notes" in response.text


def test_index_lists_notes_newest_first_and_escaped(client: FlaskClient) -> None:
    client.post("/api/notes", json={"text": "older"})
    client.post("/api/notes", json={"text": "<b>newer</b>"})
    page = client.get("/").text
    assert "No notes yet" not in page
    assert "&lt;b&gt;newer&lt;/b&gt;" in page and "<b>newer</b>" not in page
    assert page.index("newer") < page.index("older")
