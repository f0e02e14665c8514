"""Slow and hostile clients: the prod image at its defaults keeps serving everyone else.

Each test holds some connections the way an attacker (or a broken client)
would, while a legitimate client keeps sending requests on new connections,
and checks that those are answered, and what the hostile connections got.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.reliability.conftest import HERE, client_in_namespace
from tests.support.containers import Running, connections_to, wait_for

Run = Callable[..., Running]
ABUSE = HERE / "apps" / "abuse"


def timed_get(app: Running, path: str = "/", timeout: float = 5) -> tuple[int | str, float]:
    """(status or error, seconds) of one GET on a new connection."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - began
    except OSError as error:
        return type(error).__name__, time.monotonic() - began
    finally:
        connection.close()


class Legitimate:
    """A client sending GET / on a new connection, one after the other, in the background."""

    def __init__(self, app: Running) -> None:
        self.app = app
        self.results: list[tuple[int | str, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.results.append(timed_get(self.app))
            time.sleep(0.05)

    def __enter__(self) -> Legitimate:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)

    def check(self) -> tuple[int, float]:
        """Every request answered 200; returns their count and p99 latency."""
        statuses = [status for status, _ in self.results]
        assert statuses and set(statuses) == {200}, statuses
        seconds = sorted(latency for _, latency in self.results)
        p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]
        return len(seconds), p99


@pytest.fixture
def connections() -> Iterator[list[socket.socket]]:
    """Raw client sockets, all closed afterwards."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def open_socket(app: Running, opened: list[socket.socket]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", app.http_port), timeout=10)
    opened.append(sock)
    return sock


def closed_by_server(sock: socket.socket, timeout: float) -> bytes:
    """What the server sent before it closed the connection (fails if it stays open)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_64_slow_clients_do_not_stop_the_server(run: Run, connections: list[socket.socket]) -> None:
    """Slowloris: each connection sends a request line, then a header line
    every 2 s, for 20 s. nginx gives a request's headers 10 s in all
    (client_header_timeout), then closes the connection."""
    app = run(app=ABUSE)
    assert app.wait_http()[0] == 200
    slow = [open_socket(app, connections) for _ in range(64)]
    began = time.monotonic()
    for sock in slow:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: example\r\n")
    closed: dict[socket.socket, float] = {}

    def note_closed_until(drip: float) -> bool:
        """Notes the connections the server has closed; True 2 s after ``drip``."""
        readable, _, _ = select.select([sock for sock in slow if sock not in closed], [], [], 0)
        for sock in readable:
            with contextlib.suppress(OSError):
                sock.recv(65536)  # b"" or an error: nginx sends nothing as it closes
            closed[sock] = time.monotonic() - began
        return time.monotonic() - drip >= 2

    with Legitimate(app) as client:
        for line in range(10):
            for sock in slow:
                if sock not in closed:
                    with contextlib.suppress(OSError):
                        sock.sendall(b"X-Drip-%d: x\r\n" % line)
            drip = time.monotonic()
            wait_for(lambda drip=drip: note_closed_until(drip), 3, "the next drip", interval=0.1)
    answered, p99 = client.check()
    print(
        f"slow clients: 64 dripping headers for 20 s; {answered} legitimate requests answered 200, "
        f"p99 {p99 * 1000:.0f} ms; {len(closed)} closed by the server, after {min(closed.values(), default=0):.0f}"
        f"-{max(closed.values(), default=0):.0f} s"
    )
    assert answered > 50
    assert p99 < 1, f"p99 {p99:.2f} s"
    assert len(closed) == 64 and min(closed.values()) >= 10 and max(closed.values()) <= 15, closed.values()


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_64_clients_sending_their_bodies_slowly_do_not_stop_the_server(
    run: Run, connections: list[socket.socket], variant: str
) -> None:
    """At the defaults (nginx in front): 64 uploads of 64 KiB sent a byte a
    second hold no worker thread, since nginx reads a body whole before a
    worker sees the request; everyone else is answered meanwhile."""
    app = run(variant, app=ABUSE, env={"DEBUGPY_ENABLE": ""})
    assert app.wait_http()[0] == 200
    uploads = [open_socket(app, connections) for _ in range(64)]
    for sock in uploads:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 65536\r\n\r\n")
    with Legitimate(app) as client:
        for _ in range(20):
            for sock in uploads:
                sock.sendall(b"x")
            began = time.monotonic()
            wait_for(lambda began=began: time.monotonic() - began >= 1, 2, "the next byte")
    answered, p99 = client.check()
    print(f"slow bodies: 64 dripping for 20 s; {answered} legitimate requests answered 200, p99 {p99 * 1000:.0f} ms")
    assert answered > 50
    assert p99 < 1, f"p99 {p99:.2f} s"
    assert "the upload view ran" not in app.logs()


def test_a_body_that_stalls_is_closed_and_logged(run: Run, connections: list[socket.socket]) -> None:
    """nginx's client_body_timeout: 10 s without a packet of the body (docs/security.md)."""
    app = run(app=ABUSE)
    assert app.wait_http()[0] == 200
    sock = open_socket(app, connections)
    sock.sendall(b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 100\r\n\r\nonly part")
    began = time.monotonic()
    assert closed_by_server(sock, timeout=30) == b""
    seconds = time.monotonic() - began
    print(f"stalled body closed after {seconds:.1f} s")
    assert 9 <= seconds <= 15
    app.wait_log(r'"POST /upload HTTP/1\.1" 408: answered by nginx, the app did not run', timeout=5)
    assert "the upload view ran" not in app.logs()


@pytest.mark.parametrize("mode", ["router", "direct", "nginx"])
def test_a_body_sent_slowly_holds_a_worker_thread_unless_nginx_reads_it(
    run: Run, connections: list[socket.socket], mode: str
) -> None:
    """The limit docs/security.md states for HTTP_MODE=router and direct: a
    request body is not buffered before a worker thread takes the request, so
    a client that sends its body slowly holds that thread until it is done.
    With one thread, a GET waits for it; behind nginx it does not."""
    app = run(app=ABUSE, env={"HTTP_MODE": mode, "UWSGI_PROCESSES": "1", "UWSGI_THREADS": "1"})
    assert app.wait_http()[0] == 200
    upload = open_socket(app, connections)
    headers = b"POST /upload HTTP/1.1\r\nHost: example\r\nConnection: close\r\nContent-Length: 20\r\n\r\n"
    upload.sendall(headers + b"0123456789")
    # The GET goes only once the upload is connected inside the container: both
    # pass through the engine's port proxy, which may deliver the second first.
    wait_for(lambda: connections_to(app) >= 1, 10, "the upload's connection in the container")
    answers: list[tuple[int | str, float]] = []
    waiting = threading.Thread(target=lambda: answers.append(timed_get(app, timeout=30)), daemon=True)
    began = time.monotonic()
    waiting.start()
    if mode == "nginx":
        waiting.join(30)
        assert answers and answers[0][0] == 200 and answers[0][1] < 2, answers
    else:
        wait_for(lambda: time.monotonic() - began >= 2, 3, "2 s of the GET waiting")
        assert not answers, f"the GET was answered while the body was incomplete: {answers}"
    upload.sendall(b"0123456789")
    waiting.join(30)
    assert answers and answers[0][0] == 200, answers
    assert (answers[0][1] >= 2) == (mode != "nginx")
    assert closed_by_server(upload, timeout=10).startswith(b"HTTP/1.1 200")


def test_a_client_that_sends_nothing_is_closed(run: Run, connections: list[socket.socket]) -> None:
    """At the defaults, within the 25 s docs/security.md gives: the kernel holds a
    connection that has sent nothing before uWSGI accepts it (TCP_DEFER_ACCEPT,
    uWSGI's 4 s socket timeout, which Linux rounds up to SYN-ACK retransmits),
    then the router's headers timer gives it 10 s."""
    app = run(app=ABUSE)
    assert app.wait_http()[0] == 200
    began = time.monotonic()
    idle = [open_socket(app, connections) for _ in range(32)]
    with Legitimate(app) as client:
        assert closed_by_server(idle[0], timeout=40) == b""
        seconds = time.monotonic() - began
        print(f"idle client closed after {seconds:.1f} s")
    client.check()
    assert seconds <= 25


def test_headers_over_32_kib_are_refused(run: Run, connections: list[socket.socket]) -> None:
    app = run(app=ABUSE)
    assert app.wait_http()[0] == 200
    sock = open_socket(app, connections)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: example\r\nCookie: " + b"a" * 40000 + b"\r\n\r\n")
    answer = closed_by_server(sock, timeout=30)
    assert answer == b"" or answer.split(b" ", 2)[1][:1] in (b"4", b"5"), answer[:200]
    print(f"40 kB of headers: {answer.splitlines()[0] if answer else 'connection closed'}")
    assert timed_get(app)[0] == 200


@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
@pytest.mark.parametrize("ask_first", [True, False], ids=["expect-100-continue", "plain"])
def test_a_body_over_max_request_body_is_refused(
    run: Run, connections: list[socket.socket], ask_first: bool, mode: str
) -> None:
    app = run(app=ABUSE, env={"MAX_REQUEST_BODY": "1048576", "HTTP_MODE": mode})
    assert app.wait_http()[0] == 200
    sock = open_socket(app, connections)
    expect = b"Expect: 100-continue\r\n" if ask_first else b""
    sock.sendall(b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 2097152\r\n" + expect + b"\r\n")
    if mode == "nginx":
        # nginx answers 413 from the headers, asked first or not (client_max_body_size).
        answer = closed_by_server(sock, timeout=10)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    elif ask_first:
        # The router answers Expect (http-manage-expect): the workers'
        # http-socket closes the connection without an answer (README's MAX_REQUEST_BODY).
        if mode == "router":
            sock.settimeout(10)
            assert sock.recv(65536).startswith(b"HTTP/1.1 413"), "413 before the body"
        else:
            assert closed_by_server(sock, timeout=10) == b""
    else:
        with contextlib.suppress(OSError):  # the server may close while the body is still coming
            for _ in range(32):
                sock.sendall(b"x" * 65536)
        answer = closed_by_server(sock, timeout=30)
        assert answer == b"" or answer.split(b" ", 2)[1][:1] in (b"4", b"5"), answer[:200]
        print(f"2 MiB body over a 1 MiB limit: {answer.splitlines()[0] if answer else 'connection closed'}")
    assert "the upload view ran" not in app.logs(), "the app ran for a refused body"
    # Within the limit, a body is fine.
    connection = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=10)
    connection.request("POST", "/upload", body=b"x" * 1000)
    assert connection.getresponse().read() == b'{"received":1000}\n'
    wait_for(lambda: "the upload view ran" in app.logs(), 10, "the view's line for the accepted body")


def test_clients_that_never_read_their_answers_leave_the_others_served(
    run: Run, connections: list[socket.socket]
) -> None:
    # Each holds a worker thread until its write times out (socket-timeout, 4 s).
    app = run(app=ABUSE)
    assert app.wait_http()[0] == 200
    stuck = [open_socket(app, connections) for _ in range(4)]
    for sock in stuck:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big?mb=20 HTTP/1.1\r\nHost: example\r\n\r\n")
    with Legitimate(app) as client:
        wait_for(lambda: len(client.results) >= 20, 60, "20 requests of the legitimate client")
    answered, p99 = client.check()
    print(f"4 clients not reading 20 MiB answers: {answered} others answered, p99 {p99 * 1000:.0f} ms")
    assert statistics.median(latency for _, latency in client.results) < 5


@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
@pytest.mark.parametrize("offload", ["default", "0"], ids=["offload-default", "offload-0"])
def test_slow_downloads_of_a_file_leave_the_others_served(run: Run, mode: str, offload: str) -> None:
    """A file response (Flask's send_file) goes to the worker's offload
    thread (uwsgi.ini's offload-threads), which sends it however slowly it
    is read, so the worker's threads go on serving. 8 readers of an 8 MiB
    file, 4 times the threads (1 x 2), for 6 s, in the container's network
    namespace (docker-proxy would read the files for them). With
    UWSGI_OFFLOAD_THREADS=0 each reader holds a thread: what the default
    is for."""
    env = {"HTTP_MODE": mode, "UWSGI_PROCESSES": "1", "UWSGI_THREADS": "2", "ACCESS_LOG": "1"}
    if offload == "0":
        env["UWSGI_OFFLOAD_THREADS"] = "0"
    app = run(app=ABUSE, env=env)
    assert app.wait_http()[0] == 200
    report = client_in_namespace(app, "slow_readers.py", "127.0.0.1", "8080", "8", "/file", "6", timeout=120)
    print(f"8 slow readers of an 8 MiB file, {mode}, offload {offload}: {report}")
    if offload == "default":
        assert report["failed"] == 0 and report["answered"] > 50, report
        assert report["p99_ms"] < 1000, report
        app.wait_log(r"GET /file => generated 8388608 bytes in \d+ msecs via offload\(\)", timeout=5)
    else:
        assert report["answered"] < 10, report
