"""The examples' Compose stacks, production-like and development, for real."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.examples.conftest import TEST_OVERRIDE, Stack
from tests.support.containers import every_worker_stops, http_get, wait_for, wait_served
from tests.support.dap import PortSessions, Session

StartStack = Callable[..., Stack]
DEV_FILES = ["compose.yaml", "compose.override.yaml", str(TEST_OVERRIDE)]
# A view of each example, and the line of it to break on.
VIEWS = {"hello": ("main.py", "return {"), "notes": ("notes/api.py", "return {")}
# Longer than every timeout that would kill a paused worker without the
# debugger's settings: harakiri (2 s in compose.test.yaml), uWSGI's reload
# mercy (8 s), and the health check (1 s interval, 2 retries).
PAUSE_SECONDS = 12


def view(stack: Stack, path: str = "/") -> tuple[Path, int, str]:
    """(host file, breakpoint line, URL path) of the example's view."""
    name, marker = VIEWS[stack.example]
    source = stack.dir / name
    line = next(n for n, text in enumerate(source.read_text().splitlines(), 1) if marker in text)
    return source, line, "/" if stack.example == "hello" else "/api/notes"


def mappings(stack: Stack) -> list[dict[str, str]]:
    return [{"localRoot": str(stack.dir), "remoteRoot": "/app"}]


def published_ports(stack: Stack) -> dict[str, list[dict[str, str]]]:
    container = stack.container()
    return {port: bindings for port, bindings in container.attrs["NetworkSettings"]["Ports"].items() if bindings}


def get_in_background(url: str, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(http_get(url, timeout=120)), daemon=True)
    thread.start()
    return thread


def wait_debuggable(stack: Stack, workers: int = 2) -> None:
    """Until the hub listens and every worker has joined it."""
    stack.wait_log(r"^debugpy listening on 0\.0\.0\.0:5678 \(every worker\)$")
    for worker in range(1, workers + 1):
        stack.wait_log(rf"^debugpy: worker {worker} ready to join the debug session on port 5678$")


def pids(stack: Stack, title: str) -> set[int]:
    """Processes by their title (the images have no ps)."""
    # Processes that end while grep reads /proc (a health check's) are not errors.
    script = f"grep -l '^{title}' /proc/[0-9]*/cmdline 2>/dev/null; true"
    output = stack.container().exec_run(["bash", "-c", script], stderr=False).output.decode()
    return {int(path.split("/")[2]) for path in output.split()}


def worker_pids(stack: Stack) -> set[int]:
    return pids(stack, "uWSGI worker")


@pytest.mark.parametrize("example", ["hello", "notes"])
def test_production_like_stack_serves_without_a_debugger(stack: StartStack, example: str) -> None:
    app = stack(example, ["compose.yaml"])
    _, _, path = view(app)
    assert app.wait_http(path)[0] == 200
    assert app.container().image.tags == [f"{example}:latest"]
    assert set(published_ports(app)) == {"8080/tcp"}
    assert all(b["HostIp"] == "127.0.0.1" for b in published_ports(app)["8080/tcp"])
    code, _ = app.container().exec_run(["python", "-c", "import debugpy"])
    assert code != 0, "no debugger in the production-like stack"
    if example == "notes":
        # The database prestart.sh created, written to and read back through the API.
        note = json.dumps({"text": "first"}).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(app.url("/api/notes"), data=note, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        status, body = http_get(app.url("/api/notes"))
        assert (status, [n["text"] for n in json.loads(body)["notes"]]) == (200, ["first"])
        assert "notes: database ready at /data/notes.sqlite3" in app.logs()


@pytest.mark.parametrize("example", ["hello", "notes"])
def test_plain_compose_up_is_the_dev_stack_with_the_debugger_on_loopback(stack: StartStack, example: str) -> None:
    app = stack(example)  # no -f: compose.yaml + compose.override.yaml, as `docker compose up` reads them
    _, _, path = view(app)
    assert app.wait_http(path)[0] == 200
    assert app.container().image.tags == [f"{example}:dev"]
    wait_debuggable(app)
    ports = published_ports(app)
    assert {"8080/tcp", "5678/tcp"} <= set(ports)
    assert {b["HostIp"] for bindings in ports.values() for b in bindings} == {"127.0.0.1"}
    config = app.config()["services"]["web"]
    assert config["stop_grace_period"] == "3s"
    assert any(v["type"] == "bind" and v["target"] == "/app" for v in config["volumes"])


def test_one_attach_hits_the_breakpoint_in_both_workers(stack: StartStack) -> None:
    app = stack("notes", DEV_FILES)
    source, line, path = view(app)
    assert app.wait_http(path)[0] == 200
    wait_debuggable(app)
    started = time.monotonic()
    with Session("127.0.0.1", app.port(5678), mappings(app), {str(source): [line]}) as session:
        assert {session.wait_joined(), session.wait_joined()} == worker_pids(app)
        print(f"one attach: both workers joined {time.monotonic() - started:.2f} s after connecting")
        every_worker_stops(session, app.url(path), (str(source), line), worker_pids(app))


def test_per_worker_ports_each_hit_the_breakpoint(stack: StartStack) -> None:
    app = stack("notes", DEV_FILES, DEBUGPY_PORTS="per-worker")
    source, line, path = view(app)
    for worker, port in ((1, 5678), (2, 5679)):
        app.wait_log(rf"^debugpy listening on 0\.0\.0\.0:{port} \(worker {worker}\)$")
    ports = [app.port(5678), app.port(5679)]
    with PortSessions("127.0.0.1", ports, mappings(app), {str(source): [line]}) as sessions:
        every_worker_stops(sessions, app.url(path), (str(source), line), worker_pids(app))


def test_paused_worker_outlives_every_timeout_and_a_reload(stack: StartStack) -> None:
    app = stack("hello", DEV_FILES)
    source, line, path = view(app)
    wait_for(lambda: app.health() == "healthy", 30, "a healthy container", interval=0.2)
    for variable in ("UWSGI_HARAKIRI", "UWSGI_CHEAPER"):
        assert f"{variable} is ignored while the debugger is on" in app.logs()
    wait_debuggable(app)
    with Session("127.0.0.1", app.port(5678), mappings(app), {str(source): [line]}) as session:
        session.wait_joined()
        session.wait_joined()
        results: list = []
        thread = get_in_background(app.url(path), results)
        dap, stopped = session.wait_stop()
        paused_at = time.monotonic()
        # A save, so a reload while paused (HOT_RELOAD): without the debugger's
        # settings uWSGI would kill the paused worker after worker-reload-mercy (8 s).
        source.write_text(source.read_text() + "\n# saved while paused\n")
        app.wait_log(r"changed, reloading worker \d \(HOT_RELOAD")
        health = []
        while time.monotonic() - paused_at < PAUSE_SECONDS:
            health.append(app.health())
            time.sleep(0.5)
        assert set(health) == {"healthy"}, health
        assert results == []  # still paused, not killed
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200
    logs = app.logs()
    # uWSGI logs "HARAKIRI ON WORKER n" and "DAMN ! worker n ... died, killed by signal 9" when it kills one.
    assert "HARAKIRI ON WORKER" not in logs and "DAMN" not in logs, logs[-2000:]
    assert app.wait_http(path)[0] == 200
    assert app.health() == "healthy"
    print(f"paused worker survived {PAUSE_SECONDS} s")


def test_saved_edit_is_served_within_3_s_and_a_new_attach_hits_the_new_code(stack: StartStack) -> None:
    app = stack("hello", DEV_FILES)
    source, _, path = view(app)
    assert app.wait_http(path)[0] == 200
    wait_debuggable(app)
    text = source.read_text()
    edited = text.replace('greeting = f"Hello from', 'edited = "yes"\n    greeting = f"Edited from')
    assert edited != text
    saved = time.monotonic()
    source.write_text(edited)

    wait_served(app.url(path), "Edited from", 10, "the edited view")
    latency = time.monotonic() - saved
    print(f"hot reload: edit to new response in {latency:.2f} s")
    assert latency < 3, f"the edit took {latency:.2f} s to be served"
    assert app.container().attrs["RestartCount"] == 0
    new_line = next(n for n, line in enumerate(edited.splitlines(), 1) if "return {" in line)
    for worker in (1, 2):
        app.wait_log(rf"(?s)reloading worker {worker} \(HOT_RELOAD.*worker {worker} ready to join the debug session")
    with Session("127.0.0.1", app.port(5678), mappings(app), {str(source): [new_line]}) as session:
        # Either worker may take the request: both must have joined.
        session.wait_joined()
        session.wait_joined()
        results: list = []
        thread = get_in_background(app.url(path), results)
        dap, stopped = session.wait_stop()
        frame = dap.top_frame(stopped["threadId"])
        assert (frame["source"]["path"], frame["line"]) == (str(source), new_line)
        assert dap.evaluate("edited", frame["id"]) == "'yes'"
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200 and "Edited from" in results[0][1]


def test_broken_save_serves_the_error_and_the_fix_reloads(stack: StartStack) -> None:
    app = stack("hello", DEV_FILES)
    source, _, path = view(app)
    assert app.wait_http(path)[0] == 200
    text = source.read_text()
    source.write_text(text + "\ndef broken(:\n")
    _, body = wait_for(lambda: (lambda a: a if a[0] == 500 else None)(app.wait_http(path)), 10, "the error page")
    assert re.search(r"SyntaxError: .* \(/app/main\.py, line \d+\)", body), body
    source.write_text(text)
    wait_for(lambda: app.wait_http(path)[0] == 200, 10, "the fixed app")
    assert app.container().attrs["State"]["Status"] == "running"
