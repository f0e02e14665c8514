"""What a request must be before the app sees it (uwsgi/request_check.py), on the host: uwsgi.chunked_read faked."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Callable, Iterator
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


def chunks(*parts: bytes) -> Callable[[], bytes]:
    """uwsgi.chunked_read: one chunk per call, then b"" for ever."""
    remaining: Iterator[bytes] = iter(parts)
    return lambda: next(remaining, b"")


def test_a_body_is_read_whole_up_to_the_limit() -> None:
    assert request_check.read_chunked(10, chunks(b"hello", b" ", b"you")) == b"hello you"
    assert request_check.read_chunked(10, chunks()) == b""
    assert request_check.read_chunked(10, chunks(b"hello", b" world")) is None


def call(
    app: Callable[..., Any], environ: dict[str, Any], *parts: bytes, router: bool = True
) -> tuple[str, list, bytes]:
    answered: list[Any] = []
    wrapped = request_check.checked(app, 10, router=router)
    fake = types.SimpleNamespace(chunked_read=chunks(*parts))
    sys.modules["uwsgi"] = fake  # type: ignore[assignment]
    try:
        body = b"".join(wrapped(environ, lambda status, headers, *exc: answered.extend([status, headers])))
    finally:
        del sys.modules["uwsgi"]
    return answered[0], answered[1], body


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    seen = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
    return [b"%s %s %r" % (environ["CONTENT_LENGTH"].encode(), seen, "HTTP_TRANSFER_ENCODING" in environ)]


def test_the_app_gets_the_body_with_its_length_and_the_client_is_told_to_reconnect() -> None:
    environ = {**BASE, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO()}
    status, headers, body = call(echo, environ, b"hello", b" you")
    assert (status, body) == ("200 OK", b"9 hello you False")
    assert ("Connection", "close") in headers
    assert ("Connection", "close") not in call(echo, dict(environ, **{"wsgi.input": io.BytesIO()}), router=False)[1]


def test_the_app_does_not_run_for_a_refused_body() -> None:
    def never(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        raise AssertionError("the app ran")

    too_long = {**BASE, "HTTP_TRANSFER_ENCODING": "chunked"}
    assert call(never, too_long, b"hello", b" world")[0] == "413 Content Too Large"
    both = {**too_long, "CONTENT_LENGTH": "4"}
    assert call(never, both)[0] == "400 Bad Request"

    def broken() -> bytes:
        raise OSError("unable to receive chunked part")

    sys.modules["uwsgi"] = types.SimpleNamespace(chunked_read=broken)  # type: ignore[assignment]
    try:
        answered: list[str] = []
        body = request_check.checked(never, 10, router=False)(too_long, lambda s, h: answered.append(s))
    finally:
        del sys.modules["uwsgi"]
    assert answered == ["400 Bad Request"] and b"unable to receive chunked part" in b"".join(body)


def test_other_requests_pass_untouched() -> None:
    environ = {**BASE, "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}
    assert call(echo, environ) == ("200 OK", [("Content-Type", "text/plain")], b"3 abc False")
