"""Request bodies sent with ``Transfer-Encoding: chunked``, read for the app.

uWSGI 2.0 gives a WSGI app a chunked body as nothing at all: no
CONTENT_LENGTH and an empty ``wsgi.input``, so an upload from a client that
streams (curl reading stdin, Go's HTTP client, requests with a generator)
would reach the view empty, with no error anywhere. uWSGI decodes such a
body only through its chunked API, ``uwsgi.chunked_read``
(https://uwsgi-docs.readthedocs.io/en/latest/Chunked.html). Here the body is
read whole before the app runs, up to MAX_REQUEST_BODY, and handed on as an
ordinary one, with its Content-Length, as a front that buffers requests
would hand it on. The HTTP router passes such a body to the workers only
with ``http-chunked-input`` (http-router.ini).

Framing that cannot be trusted is answered before the app runs, and the
connection closed (RFC 9112, sections 6.1 and 6.3,
https://www.rfc-editor.org/rfc/rfc9112#section-6.1):
- Transfer-Encoding with a Content-Length, or in an HTTP/1.0 request, or
  with ``chunked`` not the last coding: 400;
- a coding other than ``chunked`` (``gzip, chunked``): 501;
- a chunk that uWSGI cannot read (bad syntax, or the client stalled past
  ``chunked-input-timeout``): 400;
- a body over MAX_REQUEST_BODY: 413.

uWSGI's chunk parser (core/chunked.c) is lax where this cannot see: it
reads a chunk size up to its first character that is not a hex digit
(``zz`` as 0, which ends the body), and refuses chunk extensions.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

App = Callable[..., Iterable[bytes]]


def _refuse(start_response: Callable[..., Any], status: str, why: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain")])
    return [f"{why}\n".encode()]


def _closing(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """``start_response``, adding ``Connection: close`` unless the app set Connection."""

    def closing(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        if not any(name.lower() == "connection" for name, _ in headers):
            headers = [*headers, ("Connection", "close")]
        return start_response(status, headers, *exc_info)

    return closing


def problem(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Why this request's framing is refused (status, reason), or None."""
    codings = [c.strip().lower() for c in environ["HTTP_TRANSFER_ENCODING"].split(",")]
    if environ.get("CONTENT_LENGTH"):
        return "400 Bad Request", "Transfer-Encoding and Content-Length together"
    if environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        return "400 Bad Request", "Transfer-Encoding in an HTTP/1.0 request"
    if codings[-1] != "chunked":
        return "400 Bad Request", "chunked is not the last transfer coding"
    if codings != ["chunked"]:
        return "501 Not Implemented", f"transfer coding not supported: {', '.join(codings[:-1])}"
    return None


def read_chunked(limit: int, read: Callable[[], bytes]) -> bytes | None:
    """The whole body, from ``read`` (uwsgi.chunked_read: one chunk per call,
    b"" at the end); None once it exceeds ``limit`` bytes."""
    parts, size = [], 0
    while chunk := read():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def dechunked(app: App, limit: int, *, router: bool) -> App:
    """``app``, given chunked request bodies as ordinary ones. Behind the
    router (``router``), which relays a chunked request raw and cannot keep
    its connection after it, the answer tells the client so (else the
    client's next request on that connection would fail); direct mode closes
    every connection and says so itself."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "HTTP_TRANSFER_ENCODING" not in environ:
            return app(environ, start_response)
        answer = _closing(start_response) if router else start_response
        refused = problem(environ)
        if refused:
            return _refuse(answer, *refused)
        import uwsgi

        try:
            body = read_chunked(limit, uwsgi.chunked_read)
        except OSError as exc:  # uWSGI's error for a bad or stalled chunk
            return _refuse(answer, "400 Bad Request", f"chunked body: {exc}")
        if body is None:
            return _refuse(answer, "413 Content Too Large", f"request body over {limit} bytes")
        del environ["HTTP_TRANSFER_ENCODING"]
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["wsgi.input_terminated"] = True
        return app(environ, answer)

    return application
