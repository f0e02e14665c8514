"""Request bodies sent chunked reach the app whole; framing that cannot be
trusted is refused before the app runs (uwsgi/request_body.py), in both HTTP
modes and in the dev image."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
from collections.abc import Callable, Iterator

import docker
import pytest

from tests.support.containers import APPS, Running, http_get, remove_all, start_container

Run = Callable[..., Running]
BODY_APP = APPS / "body"
LIMIT = 100_000  # MAX_REQUEST_BODY here


@pytest.fixture(scope="module", params=["router", "direct", "dev"])
def app(request: pytest.FixtureRequest, client: docker.DockerClient, images: dict[str, str]) -> Iterator[Running]:
    """One container per HTTP mode (the dev image: the router), shared by the cases."""
    started: list[docker.models.containers.Container] = []
    variant = "dev" if request.param == "dev" else "prod"
    mode = "router" if request.param == "dev" else request.param
    env = {"HTTP_MODE": mode, "MAX_REQUEST_BODY": str(LIMIT)}
    running = start_container(client, images[variant], started, app=BODY_APP, env=env)
    try:
        assert running.wait_http()[0] == 200
        yield running
    finally:
        remove_all(started)


def seen(app: Running) -> list[str]:
    return json.loads(http_get(app.url("/seen"))[1])["paths"]


def raw(app: Running, request: bytes) -> bytes:
    """Send ``request`` as it is; everything the server answers until it
    closes the connection (if it does not, the read times out and fails)."""
    with socket.create_connection(("127.0.0.1", app.http_port), timeout=20) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def test_a_chunked_upload_reaches_the_app_whole(app: Running) -> None:
    parts = [bytes([n]) * 8192 for n in range(12)]  # 96 KiB in 8 KiB chunks, as a streaming client sends
    conn = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=20)
    conn.request("POST", "/echo", body=iter(parts), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    answer = conn.getresponse()
    got = json.loads(answer.read())
    body = b"".join(parts)
    assert answer.status == 200
    assert got == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": str(len(body)),
        "transfer_encoding": None,
    }
    # The client is told the connection ends (the router cannot keep it), and its next request works.
    assert "close" in answer.getheader("Connection", "").lower()
    conn.request("GET", "/")
    assert conn.getresponse().status == 200


HIDDEN = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
# A request whose two framings disagree on where it ends, hiding a second
# one (PortSwigger's names): to a reader of Content-Length, CL.TE's body ends
# before the hidden request, and TE.CL's "22" chunk is the hidden request.
CL_TE = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HIDDEN
TE_CL = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
    + b"%x\r\n" % len(HIDDEN)
    + HIDDEN
    + b"\r\n0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("name", "request_bytes", "status"),
    [
        ("CL.TE", CL_TE, b"400"),
        ("TE.CL", TE_CL, b"400"),
        (
            "chunked not last",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
            b"400",
        ),
        (
            "unknown coding",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"501",
        ),
        (
            "HTTP/1.0",
            b"POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"400",
        ),
        (
            "over MAX_REQUEST_BODY",
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"2710\r\n" + b"x" * 10_000 + b"\r\n" for _ in range(11))
            + b"0\r\n\r\n",
            b"413",
        ),
    ],
)
def test_framing_that_cannot_be_trusted_never_reaches_the_app(
    app: Running, name: str, request_bytes: bytes, status: bytes
) -> None:
    before = seen(app)
    answer = raw(app, request_bytes)  # (and the connection closed after it)
    assert answer.split(b" ", 2)[1] == status, answer[:300]
    assert len(re.findall(rb"(?m)^HTTP/1\.[01] \d{3} ", answer)) == 1, answer  # nothing hidden was answered
    after = seen(app)
    assert after[len(before) :] == ["/seen"], after[len(before) :]  # not /echo, not /smuggled
    assert http_get(app.url())[0] == 200  # and everyone else is served


def test_a_chunked_body_that_stalls_is_refused(app: Running) -> None:
    before = seen(app)
    stalled = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly part"
    answer = raw(app, stalled)  # uWSGI's chunked-input-timeout (its socket-timeout) ends the wait
    assert answer.split(b" ", 2)[1] == b"400", answer[:300]
    assert seen(app)[len(before) :] == ["/seen"]
