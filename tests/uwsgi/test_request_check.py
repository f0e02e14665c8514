"""What a request must be before the app sees it (uwsgi/request_check.py), on the host."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import request_check

# A valid request, as uWSGI puts it in the environ.
BASE = {"SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST", "REQUEST_URI": "/items?x=1", "HTTP_HOST": "example"}


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, None),
        ({"SERVER_PROTOCOL": "HTTP/1.0", "HTTP_HOST": None}, None),  # (None: no such key)
        ({"REQUEST_URI": "http://example/items"}, None),
        ({"REQUEST_METHOD": "OPTIONS", "REQUEST_URI": "*"}, None),
        ({"REQUEST_METHOD": "M-SEARCH"}, None),
        ({"REQUEST_METHOD": "G\x00T"}, "400 Bad Request"),
        ({"REQUEST_METHOD": "GE(T"}, "400 Bad Request"),
        ({"REQUEST_METHOD": ""}, "400 Bad Request"),
        ({"HTTP_HOST": "example.org:8080"}, None),
        ({"HTTP_HOST": "[::1]:8080"}, None),
        ({"HTTP_HOST": ""}, None),
        ({"HTTP_USER_AGENT": "caf\xe9\tbrowser"}, None),  # obs-text and HTAB
        ({"HTTP_X_A.B": "1"}, None),
        ({"CONTENT_LENGTH": "005"}, None),
        ({"SERVER_PROTOCOL": "HTTP/0.99"}, "400 Bad Request"),
        ({"SERVER_PROTOCOL": "HTTP/111"}, "400 Bad Request"),
        ({"SERVER_PROTOCOL": "HTTP/2.0"}, "505 HTTP Version Not Supported"),
        ({"REQUEST_URI": "foo/bar"}, "400 Bad Request"),
        ({"REQUEST_URI": "*"}, "400 Bad Request"),
        ({"REQUEST_URI": "/a\x00b"}, "400 Bad Request"),
        ({"HTTP_HOST": None}, "400 Bad Request"),
        ({"HTTP_HOST": "a, b"}, "400 Bad Request"),
        ({"HTTP_X_A\x00B": "1"}, "400 Bad Request"),
        ({"HTTP_X A": "1"}, "400 Bad Request"),
        ({"HTTP_X_A ": "1"}, "400 Bad Request"),
        ({"HTTP_X_A": "a\x00b"}, "400 Bad Request"),
        ({"HTTP_X_A": "a\r\n  folded"}, "400 Bad Request"),
        ({"HTTP_X_A": "a\rb"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "-1"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "+5"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "5, 0"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "bla"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "\u0665"}, "400 Bad Request"),  # ARABIC-INDIC DIGIT FIVE: not a DIGIT
        ({"SERVER_PROTOCOL": "HTTP/\u0661.1"}, "400 Bad Request"),
        ({"HTTP_HOST": "example:\u0668\u0660"}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, None),
        ({"HTTP_TRANSFER_ENCODING": " Chunked "}, None),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "4"}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "SERVER_PROTOCOL": "HTTP/1.0"}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": "chunked, gzip"}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": "identity"}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": ""}, "400 Bad Request"),
        ({"HTTP_TRANSFER_ENCODING": "gzip, chunked"}, "501 Not Implemented"),
        ({"HTTP_TRANSFER_ENCODING": "chunked, chunked"}, "501 Not Implemented"),
    ],
)
def test_what_rfc_9112_says_to_refuse_is_refused(headers: dict[str, str | None], refused: str | None) -> None:
    environ = {k: v for k, v in {**BASE, **headers}.items() if v is not None}
    problem = request_check.problem(environ)
    assert (problem and problem[0]) == refused


def call(app: Callable[..., Any], environ: dict[str, Any], *, router: bool = True) -> tuple[str, list, bytes]:
    answered: list[Any] = []
    wrapped = request_check.checked(app, router=router)
    body = b"".join(wrapped(environ, lambda status, headers, *exc: answered.extend([status, headers])))
    return answered[0], answered[1], body


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    seen = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
    return [b"%s %s %r" % (environ["CONTENT_LENGTH"].encode(), seen, "HTTP_TRANSFER_ENCODING" in environ)]


def never(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    raise AssertionError("the app ran")


def test_a_chunked_body_is_refused_with_411_and_the_client_told_to_reconnect() -> None:
    chunked = {**BASE, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO()}
    status, headers, body = call(never, chunked)
    assert status == "411 Length Required" and b"Content-Length" in body
    assert ("Connection", "close") in headers
    # Direct mode closes every connection and says so itself.
    assert ("Connection", "close") not in call(never, chunked, router=False)[1]


def test_the_app_does_not_run_for_refused_framing() -> None:
    both = {**BASE, "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "4"}
    assert call(never, both)[0] == "400 Bad Request"
    gzip = {**BASE, "HTTP_TRANSFER_ENCODING": "gzip, chunked"}
    assert call(never, gzip)[0] == "501 Not Implemented"


def test_other_requests_pass_untouched() -> None:
    environ = {**BASE, "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}
    assert call(echo, environ) == ("200 OK", [("Content-Type", "text/plain")], b"3 abc False")
