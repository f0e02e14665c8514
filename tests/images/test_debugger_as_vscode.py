"""The debugger as a VS Code user meets it: attached as VS Code attaches
(devkit/dap.py: its initialize and attach arguments, the adapter's default
exception filters, a child session per worker), with justMyCode true and
false, on the debuggee app's views (apps/debuggee/main.py).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.support.containers import APPS, Running, holds, http_get, remove_all, start_container, wait_for
from tests.support.dap import DAPError, PortSessions, Session, Stop

Run = Callable[..., Running]

DEBUGGEE = APPS / "debuggee"
MAIN = DEBUGGEE / "main.py"
MAPPINGS = [{"localRoot": str(DEBUGGEE), "remoteRoot": "/app"}]
DEBUG = {"DEBUGPY_ENABLE": "1"}
# A pause longer than twice any timeout the image sets (the router's 60 s
# http-timeout, harakiri's 60 s): module_pause below.
PAUSE_SECONDS = 150


def line(text: str, after: str = "") -> int:
    """The number of the first line of main.py holding ``text`` (after the one holding ``after``)."""
    lines = MAIN.read_text().splitlines()
    start = next(n for n, source in enumerate(lines) if after in source) if after else 0
    return next(n for n, source in enumerate(lines[start:], start + 1) if text in source)


INDEX = line("name = request.args")
STEPS_FIRST = line("first = 1")
STEPS_CALL = line("second = double(first)")
STEPS_TOTAL = line("total = first + second")
DOUBLE_FIRST = line("doubled = value * 2")
COUNT = line("result = n + 1")
RAISE = line('raise ValueError("raised in a view")')
CAUGHT = line('int("not a number")')
STREAM_RAISE = line('raise RuntimeError("raised while streaming")')

JUST_MY_CODE = pytest.mark.parametrize("just_my_code", [True, False], ids=["justMyCode", "allCode"])


def get(app: Running, path: str, **headers: str) -> tuple[int, bytes]:
    """A GET (or another method: ``method=``) on a connection of its own;
    a response cut short counts as what arrived."""
    method = headers.pop("method", "GET")
    connection = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=120)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        try:
            body = response.read()
        except http.client.IncompleteRead as cut:
            body = cut.partial
        return response.status, body
    finally:
        connection.close()


def in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []

    def target() -> None:
        try:
            results.append(call())
        except Exception as exc:  # the test looks at it
            results.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, results


def no_stop(session: Session | PortSessions, seconds: float = 1.0) -> bool:
    return holds(session.stops.empty, seconds)


def run_to(
    sessions: Session | PortSessions, app: Running, path: str, at: int | None = None
) -> tuple[Stop, threading.Thread, list]:
    """GET ``path`` in the background and return the stop it causes, checked
    to be at main.py's line ``at`` when given; the thread and its results."""
    thread, results = in_background(lambda: get(app, path))
    stop = sessions.next_stop()
    if at is not None:
        assert (stop.frame["source"].get("path"), stop.frame["line"]) == (str(MAIN), at), stop.frame
    return stop, thread, results


def attach(app: Running, breakpoints: dict[str, list[Any]] | None = None, **options: Any) -> Session:
    return Session("127.0.0.1", app.ports[5678], MAPPINGS, breakpoints or {}, **options)


# --- one container for the cases: 1 worker of 4 threads --------------------------
# (one worker, so that hit counts and stops are its own)


@pytest.fixture(scope="module")
def containers(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., Running]]:
    started: list[Container] = []
    yield lambda image="dev", **kwargs: start_container(client, images[image], started, **kwargs)
    remove_all(started)


def start_debuggee(start: Callable[..., Running], **env: str) -> Running:
    """A dev container serving the debuggee with the debugger on, once it answers HTTP.

    Nothing else is waited for: once the app answers, an attach must work.
    """
    ports = (8080, 5678, 5679) if env.get("DEBUGPY_PORTS") == "per-worker" else (8080, 5678)
    app = start(app=DEBUGGEE, env={**DEBUG, **env}, ports=ports)
    wait_for(lambda: _answers(app), 60, "the debuggee's first answer")
    return app


def _answers(app: Running) -> bool:
    try:
        return http_get(app.url(), timeout=5)[0] == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        assert app.status() != "exited", app.logs()[-3000:]
        return False


@pytest.fixture(scope="module")
def debuggee(containers: Callable[..., Running]) -> Running:
    return start_debuggee(containers, UWSGI_PROCESSES="1", UWSGI_THREADS="4")


# --- a long pause, started first: the cases run while it lasts ----------------------


@pytest.fixture(scope="module", autouse=True)
def module_pause(containers: Callable[..., Running]) -> Iterator[dict[str, Any]]:
    """A request paused at a breakpoint in each HTTP mode, on a kept-alive
    connection, from the start of this module; test_a_long_pause_... ends it."""
    pauses: dict[str, Any] = {}
    sessions: list[Session] = []
    for mode in ("nginx", "router", "direct"):
        app = start_debuggee(containers, HTTP_MODE=mode, UWSGI_PROCESSES="1", UWSGI_THREADS="2")
        session = attach(app, {str(MAIN): [INDEX]})
        sessions.append(session)
        session.wait_joined()
        connection = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=PAUSE_SECONDS * 3)
        connection.request("GET", "/steps")  # no breakpoint there
        first = connection.getresponse()
        kept = {"nginx": "keep-alive", "router": None, "direct": "close"}[mode]
        assert (first.status, first.getheader("Connection")) == (200, kept)
        first.read()
        if mode == "direct":  # http-socket closes after each answer (http-direct.ini)
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", app.http_port, timeout=PAUSE_SECONDS * 3)

        def paused_request(connection: http.client.HTTPConnection = connection) -> tuple[int, bytes]:
            connection.request("GET", "/?name=patient")
            response = connection.getresponse()
            return response.status, response.read()

        thread, results = in_background(paused_request)
        stop = session.next_stop()
        assert stop.frame["line"] == INDEX
        pauses[mode] = {"app": app, "session": session, "stop": stop, "thread": thread, "results": results}
        pauses[mode]["connection"] = connection
    pauses["since"] = time.monotonic()
    yield pauses
    for session in sessions:
        session.close()


# --- 1. no stop the user did not ask for --------------------------------------------

# Every kind of response: plain, streamed, streamed with the request context,
# send_file of a file (wsgi.file_wrapper) and of bytes, an iterable with a
# close(), HEAD, a 304, an exception the app catches, a 500 from a view.
REQUESTS: list[tuple[str, str, dict[str, str], int]] = [
    ("GET", "/", {}, 200),
    ("GET", "/stream", {}, 200),
    ("GET", "/stream-context", {}, 200),
    ("GET", "/file", {}, 200),
    ("GET", "/bytes-file", {}, 200),
    ("GET", "/closing", {}, 200),
    ("HEAD", "/", {}, 200),
    ("GET", "/etag", {"If-None-Match": '"v1"'}, 304),
    ("GET", "/caught", {}, 200),
    ("GET", "/steps", {}, 200),
]


def fifty_requests(app: Running) -> list[tuple[str, int, int]]:
    """50 requests, 5 at a time, over every kind of response: (path, status, expected)."""
    answers: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        for n in range(10):
            method, path, headers, expected = REQUESTS[(offset + n) % len(REQUESTS)]
            status, _ = get(app, path, method=method, **headers)
            with lock:
                answers.append((path, status, expected))

    threads = [threading.Thread(target=client, args=(offset,), daemon=True) for offset in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


@JUST_MY_CODE
@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
def test_no_stop_without_a_breakpoint_in_any_worker(
    containers: Callable[..., Running], just_my_code: bool, mode: str
) -> None:
    app = start_debuggee(containers, HTTP_MODE=mode, UWSGI_PROCESSES="2", UWSGI_THREADS="4")
    with attach(app, just_my_code=just_my_code) as session:
        assert session.root.exception_filters == ["uncaught"]  # VS Code's default
        session.wait_joined()
        session.wait_joined()
        answers = fifty_requests(app)
        assert no_stop(session), session.next_stop().frame
    assert len(answers) == 50 and all(status == expected for _, status, expected in answers), answers


@JUST_MY_CODE
@pytest.mark.parametrize("mode", ["nginx", "router"])
def test_no_stop_when_clients_go_away_mid_answer(
    containers: Callable[..., Running], just_my_code: bool, mode: str
) -> None:
    """A client that closes while its answer streams: the front drops the
    request, uWSGI closes the response, and nothing stops (the close used to
    leave Python as an uncaught GeneratorExit, with every thread paused)."""
    app = start_debuggee(containers, HTTP_MODE=mode, UWSGI_PROCESSES="1", UWSGI_THREADS="4")
    with attach(app, just_my_code=just_my_code) as session:
        session.wait_joined()
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", app.http_port), timeout=10) as client:
                client.sendall(b"GET /drip HTTP/1.1\r\nHost: x\r\n\r\n")
                assert client.recv(65536).startswith(b"HTTP/1.1 200")
        # Each of the 4 threads finds its client gone at its next write, within a chunk's 0.1 s.
        assert no_stop(session, 3), session.next_stop().frame
        assert http_get(app.url("/steps"))[0] == 200


@JUST_MY_CODE
def test_no_stop_without_a_breakpoint_on_per_worker_ports(
    containers: Callable[..., Running], just_my_code: bool
) -> None:
    app = start_debuggee(containers, DEBUGPY_PORTS="per-worker", UWSGI_PROCESSES="2", UWSGI_THREADS="4")
    ports = [app.ports[5678], app.ports[5679]]
    with PortSessions("127.0.0.1", ports, MAPPINGS, {}, just_my_code=just_my_code) as sessions:
        answers = fifty_requests(app)
        assert no_stop(sessions), sessions.next_stop().frame
    assert len(answers) == 50 and all(status == expected for _, status, expected in answers), answers


# --- 2. what the user asked for stops, once ------------------------------------------


@JUST_MY_CODE
def test_a_view_breakpoint_stops_once_per_request(debuggee: Running, just_my_code: bool) -> None:
    with attach(debuggee, {str(MAIN): [INDEX]}, just_my_code=just_my_code) as session:
        session.wait_joined()
        for n in range(3):
            stop, thread, results = run_to(session, debuggee, f"/?name=n{n}", INDEX)
            assert stop.body["reason"] == "breakpoint"
            stop.resume()
            thread.join(30)
            assert results[0][0] == 200 and f"n{n}".encode() in results[0][1]
            assert no_stop(session, 0.5)


@JUST_MY_CODE
def test_evaluate_in_a_view_reads_the_request(debuggee: Running, just_my_code: bool) -> None:
    with attach(debuggee, {str(MAIN): [INDEX]}, just_my_code=just_my_code) as session:
        session.wait_joined()
        stop, thread, results = run_to(session, debuggee, "/?name=evaluated", INDEX)
        assert stop.client.evaluate("request.args['name']", stop.frame["id"]) == "'evaluated'"
        assert "evaluated" in stop.client.evaluate("request.args", stop.frame["id"])
        stop.resume()
        thread.join(30)
    assert results[0][0] == 200


@JUST_MY_CODE
def test_next_step_in_and_step_out_land_on_their_lines(debuggee: Running, just_my_code: bool) -> None:
    with attach(debuggee, {str(MAIN): [STEPS_FIRST]}, just_my_code=just_my_code) as session:
        session.wait_joined()
        stop, thread, results = run_to(session, debuggee, "/steps", STEPS_FIRST)
        dap, thread_id = stop.client, stop.body["threadId"]

        def step(command: str) -> tuple[str, int, str]:
            dap.request(command, {"threadId": thread_id})
            client, body = session.wait_stop()
            assert client is dap and body["reason"] == "step", body
            frame = dap.top_frame(thread_id)
            return frame["source"].get("path", ""), frame["line"], frame["name"]

        assert step("next") == (str(MAIN), STEPS_CALL, "steps")
        assert step("stepIn") == (str(MAIN), DOUBLE_FIRST, "double")
        assert step("stepOut")[:2] == (str(MAIN), STEPS_CALL)
        assert step("next") == (str(MAIN), STEPS_TOTAL, "steps")
        dap.request("continue", {"threadId": thread_id})
        thread.join(30)
        assert no_stop(session, 0.5)
    assert results[0] == (200, b'{"total":3}\n')


def stop_at_count(session: Session, app: Running, n: int) -> int:
    """GET /count/n, which must stop at the count view with ``n`` as its
    local; continue, and return the answer's status."""
    stop, thread, results = run_to(session, app, f"/count/{n}", COUNT)
    assert stop.client.evaluate("n", stop.frame["id"]) == str(n)
    stop.resume()
    thread.join(30)
    return results[0][0]


@JUST_MY_CODE
def test_a_conditional_breakpoint_stops_only_when_its_condition_holds(debuggee: Running, just_my_code: bool) -> None:
    breakpoints = {str(MAIN): [{"line": COUNT, "condition": "n == 3"}]}
    with attach(debuggee, breakpoints, just_my_code=just_my_code) as session:
        session.wait_joined()
        assert [get(debuggee, f"/count/{n}")[0] for n in (1, 2)] == [200, 200]
        assert no_stop(session, 0.2)
        assert stop_at_count(session, debuggee, 3) == 200


@JUST_MY_CODE
def test_a_hit_count_stops_at_that_hit(debuggee: Running, just_my_code: bool) -> None:
    breakpoints = {str(MAIN): [{"line": COUNT, "hitCondition": "2"}]}
    with attach(debuggee, breakpoints, just_my_code=just_my_code) as session:
        session.wait_joined()
        assert get(debuggee, "/count/10")[0] == 200
        assert no_stop(session, 0.2)
        assert stop_at_count(session, debuggee, 20) == 200
        assert get(debuggee, "/count/30")[0] == 200
        assert no_stop(session, 0.5)


@JUST_MY_CODE
def test_a_logpoint_prints_and_does_not_stop(debuggee: Running, just_my_code: bool) -> None:
    breakpoints = {str(MAIN): [{"line": INDEX, "logMessage": "logpoint saw {request.args['name']}"}]}
    with attach(debuggee, breakpoints, just_my_code=just_my_code) as session:
        session.wait_joined()
        assert get(debuggee, "/?name=quietly")[0] == 200
        wait_for(lambda: "logpoint saw quietly" in session.output(), 10, "the logpoint's output event")
        assert no_stop(session, 0.5)


# --- exceptions -----------------------------------------------------------------------


@JUST_MY_CODE
def test_user_uncaught_exceptions_stop_once_at_the_raising_line(debuggee: Running, just_my_code: bool) -> None:
    filters = ["uncaught", "userUnhandled"]
    with attach(debuggee, just_my_code=just_my_code, exception_filters=filters) as session:
        session.wait_joined()
        stop, thread, results = run_to(session, debuggee, "/raise", RAISE)
        assert stop.body["reason"] == "exception"
        stop.resume()
        thread.join(30)
        assert results[0][0] == 500
        assert no_stop(session, 1.0)


@JUST_MY_CODE
def test_raised_exceptions_stop_at_a_raise_in_the_app(debuggee: Running, just_my_code: bool) -> None:
    with attach(debuggee, just_my_code=just_my_code, exception_filters=["raised", "uncaught"]) as session:
        session.wait_joined()
        thread, results = in_background(lambda: get(debuggee, "/caught"))
        seen = []
        # With justMyCode false, raises inside the libraries stop too; go on past them.
        while len(seen) < 20:
            stop = session.next_stop()
            seen.append((stop.frame["source"].get("path"), stop.frame["line"]))
            stop.resume()
            if seen[-1] == (str(MAIN), CAUGHT):
                break
        thread.join(30)
    assert seen[-1] == (str(MAIN), CAUGHT), seen
    assert just_my_code is False or len(seen) == 1, seen
    assert results[0][0] == 200


@JUST_MY_CODE
def test_a_generator_raising_while_streaming_stops_with_the_defaults(debuggee: Running, just_my_code: bool) -> None:
    with attach(debuggee, just_my_code=just_my_code) as session:
        session.wait_joined()
        stop, thread, results = run_to(session, debuggee, "/stream-raise", STREAM_RAISE)
        assert stop.body["reason"] == "exception"
        stop.resume()
        thread.join(30)
        assert no_stop(session, 0.5)
    status, body = results[0]
    assert status == 200 and body.startswith(b"first\n")


# --- 4. a debugger that vanishes -------------------------------------------------------


# A vanished debugger's session is still ending in debugpy's adapter when the
# next one attaches: the race debugpy_internals_adapter.patch_report_sockets fixes.


# A generous bound, not a goal: a worker joins the next session within a
# second or so.
REJOIN_WITHIN = 90


def vanished_debugger(start: Callable[..., Running], ports: str) -> tuple[Running, Callable[[], Any]]:
    """A debugger that stopped at a breakpoint, then vanished: the paused
    request completes, and every worker serves again. Returns the app and a
    way to attach again."""
    app = start_debuggee(start, DEBUGPY_PORTS=ports, UWSGI_PROCESSES="2", UWSGI_THREADS="2")

    def sessions() -> Session | PortSessions:
        if ports == "one":
            session = attach(app, {str(MAIN): [INDEX]})
            session.wait_joined(REJOIN_WITHIN)
            session.wait_joined(REJOIN_WITHIN)
            return session
        return PortSessions("127.0.0.1", [app.ports[5678], app.ports[5679]], MAPPINGS, {str(MAIN): [INDEX]})

    gone = sessions()
    thread, results = in_background(lambda: get(app, "/?name=abandoned"))
    gone.next_stop()
    gone.abandon()  # an IDE killed: its sockets close, no disconnect
    thread.join(15)
    assert results and results[0][0] == 200, results
    assert [get(app, f"/?name=after{n}")[0] for n in range(10)] == [200] * 10
    return app, sessions


@pytest.mark.parametrize("ports", ["one", "per-worker"])
def test_a_vanished_debugger_leaves_no_frozen_worker(containers: Callable[..., Running], ports: str) -> None:
    vanished_debugger(containers, ports)


@pytest.mark.parametrize("ports", ["one", "per-worker"])
# Seen failing about once in 200 runs before a worker that leaves hung up
# for real (debugpy_internals_worker.leave): the adapter refused its next join.
def test_after_a_vanished_debugger_a_new_attach_stops_again(containers: Callable[..., Running], ports: str) -> None:
    app, sessions = vanished_debugger(containers, ports)
    with sessions() as again:
        stop, thread, results = run_to(again, app, "/?name=again", INDEX)
        assert stop.frame["line"] == INDEX
        stop.resume()
        thread.join(30)
    assert results[0][0] == 200


# --- 3. ready means ready ------------------------------------------------------------------


@pytest.mark.parametrize("ports", ["one", "per-worker"])
def test_an_attach_works_once_the_app_answers_or_is_healthy(containers: Callable[..., Running], ports: str) -> None:
    app = start_debuggee(containers, DEBUGPY_PORTS=ports, UWSGI_PROCESSES="2")
    # No wait for any log line: the first answer was enough.
    if ports == "one":
        with attach(app) as session:
            session.wait_joined()
    else:
        with PortSessions("127.0.0.1", [app.ports[5678], app.ports[5679]], MAPPINGS, {}):
            pass
    assert app.exec("flask-uwsgi-healthcheck")[0] == 0


def test_healthy_only_once_the_debug_port_listens(containers: Callable[..., Running]) -> None:
    # The hub (the debug port's owner) is started by uWSGI's master after the
    # workers: the health check must not pass before it listens.
    app = containers(app=DEBUGGEE, env=DEBUG, ports=(8080, 5678))

    def healthy() -> bool:
        code, output = app.exec("flask-uwsgi-healthcheck")
        assert code == 0 or "unhealthy" in output, output
        return code == 0

    wait_for(healthy, 60, "a healthy container")
    with attach(app) as session:
        session.wait_joined()


# --- 2. (last) the long pause --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
def test_a_long_pause_then_continue_gets_the_whole_answer(module_pause: dict[str, Any], mode: str) -> None:
    pause = module_pause[mode]
    app: Running = pause["app"]
    wait_for(
        lambda: time.monotonic() - module_pause["since"] >= PAUSE_SECONDS,
        PAUSE_SECONDS + 60,
        f"{PAUSE_SECONDS} s of pause",
        interval=1,
    )
    assert pause["thread"].is_alive() and pause["results"] == [], "the paused request ended early"
    pause["stop"].resume()
    pause["thread"].join(30)
    assert pause["results"] and pause["results"][0][0] == 200, pause["results"]
    assert b"patient" in pause["results"][0][1]
    if mode != "direct":  # the same kept-alive connection serves on
        connection: http.client.HTTPConnection = pause["connection"]
        connection.request("GET", "/steps")
        assert connection.getresponse().status == 200
    with pytest.raises(DAPError):
        pause["session"].wait_stop(0.5)
    assert "HARAKIRI" not in app.logs()
