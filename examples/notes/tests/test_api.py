"""The JSON API: add and list notes."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_no_notes_at_first(client: FlaskClient) -> None:
    response = client.get("/api/notes")
    assert response.status_code == 200
    assert response.get_json() == {"notes": []}


def test_added_notes_are_listed_in_order(client: FlaskClient) -> None:
    first = client.post("/api/notes", json={"text": "first"})
    second = client.post("/api/notes", json={"text": "  second  "})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == {"id": 1, "text": "first"}
    # Surrounding spaces are not part of a note.
    assert second.get_json() == {"id": 2, "text": "second"}
    notes = client.get("/api/notes").get_json()["notes"]
    assert [(n["id"], n["text"]) for n in notes] == [(1, "first"), (2, "second")]
    assert all(n["created"] for n in notes)


def test_a_note_needs_text(client: FlaskClient) -> None:
    for body in ({"text": ""}, {"text": "   "}, {}, {"other": "x"}):
        response = client.post("/api/notes", json=body)
        assert response.status_code == 400, body
        assert b"a note needs some text" in response.data
    # Not JSON at all.
    response = client.post("/api/notes", data="text=hi", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert client.get("/api/notes").get_json() == {"notes": []}
