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
other than chunked, 411 for a chunked body (below). Every one of them is
visible in the WSGI environ, which is what is checked (a few microseconds a
request).

A request body sent chunked is refused with 411 Length Required, which
RFC 9112 6.3 allows a server to answer a body without a Content-Length.
uWSGI 2.0 hands a WSGI app such a body as nothing at all (no CONTENT_LENGTH,
an empty ``wsgi.input``) and decodes it only through its chunked API,
``uwsgi.chunked_read``, whose parser (core/chunked.c) is lax where nothing
here can see: it reads a chunk size up to its first character that is not a
hex digit (``zz`` as 0, which ends the body; ``0x5`` as 5), skips the two
bytes after a chunk's data without checking that they are CRLF, and stops
at the last chunk without reading its trailers. A body decoded that way
cannot be told from a well-framed one. nginx, the default front, decodes
chunked bodies strictly and hands them on with their Content-Length, so a
worker sees ``Transfer-Encoding`` only behind the HTTP router (which passes
it on with ``http-chunked-input``, http-router.ini, rather than read the body
as the next request) or in direct mode.

RFC 9112: https://www.rfc-editor.org/rfc/rfc9112 (2.2 line endings, 2.3
versions, 3.2 the request target and Host, 5 field syntax, 6.1-6.3 framing).
"""

from __future__ import annotations

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
# A method is a token (RFC 9110 9.1, 5.6.2): uWSGI hands on "G\x00T" as one.
METHOD = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+\Z").match


LENGTH_REQUIRED = ("411 Length Required", "a chunked request body: send it with a Content-Length")


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
    if not METHOD(environ.get("REQUEST_METHOD", "")):
        return "400 Bad Request", "not a method"
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


def checked(app: App, *, router: bool) -> App:
    """``app``, behind the checks above.

    Behind the router (``router``), each refusal says ``Connection: close``:
    the router relays a chunked request raw and cannot keep its connection
    after it, and a client must not send more on a connection whose framing
    was refused. Direct mode closes every connection and says so itself."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        refused = problem(environ)
        if refused is None and "HTTP_TRANSFER_ENCODING" not in environ:
            return app(environ, start_response)
        answer = _closing(start_response) if router else start_response
        return _refuse(answer, *(refused or LENGTH_REQUIRED))

    return application
