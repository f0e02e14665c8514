"""What a request must be before the app sees it: its line, its headers, its framing.

uWSGI 2.0's HTTP parsers (the router's and ``http-socket``'s) pass on what
RFC 9112 says a server must refuse: versions such as ``HTTP/0.99``, a
relative request target, ``*`` on a method other than OPTIONS, an HTTP/1.1
request with no Host or two, NUL, CR or LF inside a header (obs-fold
included), a space in a header's name, and a Content-Length that is not a
number (``-1``, ``5, 0`` from two headers). A front and this server that
disagree on where a request ends are what request smuggling is made of, so
each is answered here, before the app runs, and the connection closed:
400, or 505 for an HTTP version other than 1.x, 501 for a transfer coding
other than chunked. Every one of them is visible in the WSGI environ, which
is what is checked (a few microseconds a request).

uWSGI 2.0 also gives a WSGI app a chunked body as nothing at all: no
CONTENT_LENGTH and an empty ``wsgi.input``, so an upload from a client that
streams (curl reading stdin, Go's HTTP client, requests with a generator)
would reach the view empty, with no error anywhere. uWSGI decodes such a
body only through its chunked API, ``uwsgi.chunked_read``
(https://uwsgi-docs.readthedocs.io/en/latest/Chunked.html). Here the body is
read whole before the app runs, up to MAX_REQUEST_BODY (413 over it), and
handed on as an ordinary one, with its Content-Length, as a front that
buffers requests would hand it on. The HTTP router passes such a body to the
workers only with ``http-chunked-input`` (http-router.ini).

RFC 9112: https://www.rfc-editor.org/rfc/rfc9112 (2.2 line endings, 2.3
versions, 3.2 the request target and Host, 5 field syntax, 6.1-6.3 framing).
uWSGI's chunk parser (core/chunked.c) is lax where this cannot see: it reads
a chunk size up to its first character that is not a hex digit (``zz`` as 0,
which ends the body), and refuses chunk extensions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

App = Callable[..., Iterable[bytes]]

# RFC 9112's DIGIT is 0-9 only (a regex's \d also matches other scripts' digits).
VERSION = re.compile(r"HTTP/([0-9])\.[0-9]\Z").match
# A target's start: origin-form ("/"), or absolute-form (a scheme and "://").
TARGET = re.compile(r"/|[A-Za-z][A-Za-z0-9+.-]*://").match
# Control characters other than HTAB (a target may hold none at all).
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search
# A field name as uWSGI puts it in the environ: HTTP_ and the name's token
# characters, uppercased, "-" as "_" (RFC 9110 5.1, 5.6.2).
NAME = re.compile(r"HTTP_[A-Z0-9_!#$%&'*+.^`|~]+\Z").match
# uri-host [ ":" port ] (RFC 3986): a reg-name or IPv4 address, or an IP literal.
HOST = re.compile(r"(?:[A-Za-z0-9._~%!$&'()*+,;=-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?\Z").match
DIGITS = re.compile(r"[0-9]+\Z").match


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
    """Why this request is refused (status, reason), or None."""
    protocol = environ.get("SERVER_PROTOCOL", "")
    version = VERSION(protocol)
    if not version:
        return "400 Bad Request", f"not an HTTP version: {protocol!r}"
    if version.group(1) != "1":
        return "505 HTTP Version Not Supported", f"{protocol} is not supported"
    target = environ.get("REQUEST_URI", "")
    if target == "*":
        if environ.get("REQUEST_METHOD") != "OPTIONS":
            return "400 Bad Request", "the target * is for OPTIONS only"
    elif not TARGET(target) or CONTROL(target):
        return "400 Bad Request", "not a request target"
    for name, value in environ.items():
        if name.startswith("HTTP_") and (not NAME(name) or CONTROL(value)):
            return "400 Bad Request", "a header field that is not one"
    host = environ.get("HTTP_HOST")
    if host is None:
        if protocol == "HTTP/1.1":
            return "400 Bad Request", "an HTTP/1.1 request needs a Host"
    elif not HOST(host):
        return "400 Bad Request", "not a Host (or more than one)"
    length = environ.get("CONTENT_LENGTH")
    if length and not DIGITS(length):
        return "400 Bad Request", "not a Content-Length (or more than one)"
    if "HTTP_TRANSFER_ENCODING" in environ:
        return _framing(environ, protocol, length)
    return None


def _framing(environ: dict[str, Any], protocol: str, length: str | None) -> tuple[str, str] | None:
    codings = [c.strip().lower() for c in environ["HTTP_TRANSFER_ENCODING"].split(",")]
    if length:
        return "400 Bad Request", "Transfer-Encoding and Content-Length together"
    if protocol == "HTTP/1.0":
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


def checked(app: App, limit: int, *, router: bool) -> App:
    """``app``, behind the checks above, given chunked bodies as ordinary ones.

    Behind the router (``router``), each refusal and each answer to a chunked
    request says ``Connection: close``: the router relays a chunked request
    raw and cannot keep its connection after it, and a client must not send
    more on a connection whose framing went wrong. Direct mode closes every
    connection and says so itself."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = problem(environ)
        if refused is None and "HTTP_TRANSFER_ENCODING" not in environ:
            return app(environ, start_response)
        answer = _closing(start_response) if router else start_response
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
