"""A real DAP client attaches to debugpy inside the dev image's uWSGI workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from tests.support.containers import HELLO, Running, every_worker_stops, holds, http_get, listening_ports, process_table
from tests.support.dap import DAPClient, PortSessions, Session

Run = Callable[..., Running]

MAIN = HELLO / "main.py"
BREAK_LINE = next(n for n, line in enumerate(MAIN.read_text().splitlines(), 1) if "return {" in line)
MAPPINGS = [{"localRoot": str(HELLO), "remoteRoot": "/app"}]


# A generous bound: debugpy.listen gives its adapter 30 s to start; if it gives
# up, uWSGI starts the hub (or the worker) again, and the retry must be seen.
STARTS_WITHIN = 90


def start_debug(run: Run, workers: int = 1, app: Path = HELLO, **env: str) -> Running:
    """A dev container with the debugger on (the app in ``app``), once every worker can be debugged."""
    if env.get("DEBUGPY_PORTS") == "per-worker":
        ports = (8080, *(5678 + i for i in range(workers)))
        running = run("dev", app=app, env={"DEBUGPY_ENABLE": "1", **env}, ports=ports)
        for worker in range(1, workers + 1):
            running.wait_log(rf"^debugpy listening on 0\.0\.0\.0:{5677 + worker} \(worker {worker}\)$", STARTS_WITHIN)
        return running
    running = run("dev", app=app, env={"DEBUGPY_ENABLE": "1", **env}, ports=(8080, 5678))
    running.wait_log(r"^debugpy listening on 0\.0\.0\.0:5678 \(every worker\)$", STARTS_WITHIN)
    for worker in range(1, workers + 1):
        running.wait_log(rf"^debugpy: worker {worker} ready to join the debug session on port 5678$", STARTS_WITHIN)
    return running


def worker_pids(app: Running) -> set[int]:
    return {pid for pid, _, cmd in process_table(app) if cmd.startswith("uWSGI worker")}


def request_in_background(app: Running, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(http_get(app.url(), timeout=60)), daemon=True)
    thread.start()
    return thread


def test_breakpoint_in_a_view_is_hit(run: Run) -> None:
    app = start_debug(run)
    assert listening_ports(app) == {8080, 5678}
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {str(MAIN): [BREAK_LINE]}) as session:
        assert session.wait_joined() in worker_pids(app)
        results: list = []
        thread = request_in_background(app, results)
        dap, stopped = session.wait_stop()
        assert stopped["reason"] == "breakpoint"
        frame = dap.top_frame(stopped["threadId"])
        assert (frame["source"]["path"], frame["line"]) == (str(MAIN), BREAK_LINE)
        greeting = dap.evaluate("greeting", frame["id"])
        assert greeting.startswith("'Hello from flask-uwsgi, worker pid")
        assert results == []  # the request waits at the breakpoint
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200
    assert greeting.strip("'") in results[0][1]
    assert "frozen modules" not in app.logs()


def test_per_worker_port_breakpoint_is_hit(run: Run) -> None:
    app = start_debug(run, DEBUGPY_PORTS="per-worker")
    assert listening_ports(app) == {8080, 5678}
    with DAPClient("127.0.0.1", app.ports[5678]) as dap:
        breakpoints = dap.attach(MAPPINGS, {str(MAIN): [BREAK_LINE]})
        assert [bp["verified"] for bp in breakpoints[str(MAIN)]] == [True]
        results: list = []
        thread = request_in_background(app, results)
        stopped = dap.wait_event("stopped")["body"]
        frame = dap.top_frame(stopped["threadId"])
        assert (frame["source"]["path"], frame["line"]) == (str(MAIN), BREAK_LINE)
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200


def test_one_attach_covers_every_worker(run: Run) -> None:
    # One thread per worker: while worker A is paused, only worker B can take
    # the next request, so both must stop at the breakpoint.
    app = start_debug(run, workers=2, UWSGI_PROCESSES="2", UWSGI_THREADS="1")
    assert listening_ports(app) == {8080, 5678}
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {str(MAIN): [BREAK_LINE]}) as session:
        assert {session.wait_joined(), session.wait_joined()} == worker_pids(app)
        every_worker_stops(session, app.url(), (str(MAIN), BREAK_LINE), worker_pids(app))


def test_respawned_worker_joins_the_session_by_itself(run: Run) -> None:
    app = start_debug(run)
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {str(MAIN): [BREAK_LINE]}) as session:
        (old,) = worker_pids(app)
        assert session.wait_joined() == old
        app.exec("bash", "-c", f"kill -KILL {old}")
        new = session.wait_joined()
        assert new != old and worker_pids(app) == {new}
        results: list = []
        thread = request_in_background(app, results)
        dap, stopped = session.wait_stop()
        frame = dap.top_frame(stopped["threadId"])
        assert int(dap.evaluate("__import__('os').getpid()", frame["id"])) == new
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200


def test_every_worker_hits_the_breakpoint_on_its_own_port(run: Run) -> None:
    app = start_debug(run, workers=2, DEBUGPY_PORTS="per-worker", UWSGI_PROCESSES="2", UWSGI_THREADS="1")
    ports = [app.ports[5678], app.ports[5679]]
    with PortSessions("127.0.0.1", ports, MAPPINGS, {str(MAIN): [BREAK_LINE]}) as sessions:
        every_worker_stops(sessions, app.url(), (str(MAIN), BREAK_LINE), worker_pids(app))


def test_paused_worker_outlives_harakiri(run: Run) -> None:
    app = start_debug(run, UWSGI_HARAKIRI="1")
    assert "UWSGI_HARAKIRI is ignored while the debugger is on" in app.logs()
    with Session("127.0.0.1", app.ports[5678], MAPPINGS, {str(MAIN): [BREAK_LINE]}) as session:
        session.wait_joined()
        results: list = []
        thread = request_in_background(app, results)
        dap, stopped = session.wait_stop()
        # The only worker is paused, and the container is still healthy.
        healthy = "healthy: port 8080 accepts connections, the debugger listens (debug mode)\n"
        assert app.exec("flask-uwsgi-healthcheck") == (0, healthy)
        # uWSGI checks harakiri every second: three seconds paused would be killed.
        assert holds(lambda: "HARAKIRI ON WORKER" not in app.logs() and "DAMN" not in app.logs(), 3)
        dap.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200


@pytest.mark.parametrize("lazy", ["0", "1"])
@pytest.mark.parametrize(
    ("mode", "started"), [("one", "ready to join the debug session"), ("per-worker", "listening on")]
)
def test_starts_in_workers_only_also_with_lazy_apps(run: Run, lazy: str, mode: str, started: str) -> None:
    app = start_debug(run, UWSGI_LAZY_APPS=lazy, DEBUGPY_PORTS=mode)
    assert app.wait_http()[0] == 200
    logs = app.logs()
    assert logs.count(f"debugpy: worker 1 {started}") + logs.count(f"debugpy {started} 0.0.0.0:5678 (worker 1)") == 1


@pytest.mark.parametrize(
    ("mode", "waiting"),
    [
        ("one", r"^debugpy: waiting for a debugger on port 5678 before workers start$"),
        ("per-worker", r"^debugpy: worker 1 waits for a debugger on port 5678$"),
    ],
)
def test_wait_for_client_holds_requests_until_attach(run: Run, mode: str, waiting: str) -> None:
    env = {"DEBUGPY_ENABLE": "1", "DEBUGPY_WAIT": "1", "DEBUGPY_PORTS": mode}
    app = run("dev", env=env, ports=(8080, 5678))
    app.wait_log(waiting)
    results: list = []
    thread = request_in_background(app, results)
    thread.join(2)
    assert results == []  # accepted by uWSGI's socket, not answered yet
    if mode == "one":
        with Session("127.0.0.1", app.ports[5678], MAPPINGS, {}) as session:
            session.wait_joined()
            thread.join(30)
    else:
        with DAPClient("127.0.0.1", app.ports[5678]) as dap:
            dap.attach(MAPPINGS, {})
            thread.join(30)
    assert results and results[0][0] == 200


def test_respawned_worker_waits_for_its_port_then_listens_again(run: Run) -> None:
    app = start_debug(run, DEBUGPY_PORTS="per-worker")
    dap = DAPClient("127.0.0.1", app.ports[5678])
    try:
        dap.attach(MAPPINGS, {})
        pid = next(p for p, _, cmd in process_table(app) if cmd == "uWSGI worker 1")
        app.exec("bash", "-c", f"kill -KILL {pid}")
        # The killed worker's debug adapter still holds the port for this client.
        app.wait_log(r"^debugpy: port 5678 still in use, retrying \(worker 1\)$", timeout=30)
    finally:
        dap.close()
    app.wait_log(r"(?s)debugpy listening on 0\.0\.0\.0:5678 \(worker 1\).*debugpy listening on 0\.0\.0\.0:5678")
    with DAPClient("127.0.0.1", app.ports[5678]) as again:
        again.attach(MAPPINGS, {str(MAIN): [BREAK_LINE]})
        results: list = []
        thread = request_in_background(app, results)
        stopped = again.wait_event("stopped")["body"]
        again.request("continue", {"threadId": stopped["threadId"]})
        thread.join(30)
    assert results and results[0][0] == 200


def in_dev_python(client: docker.DockerClient, images: dict[str, str], script: str, *args: str) -> str:
    """What ``script`` prints, run by the dev image's python3 with its debugpy and its debugger modules."""
    paths = "import sys; sys.path[:0] = ['/usr/local/lib/flask-uwsgi/debugpy', '/usr/local/lib/flask-uwsgi/python']\n"
    out = client.containers.run(images["dev"], ["-c", paths + script, *args], entrypoint="python3", remove=True)
    return out.decode().strip()


def test_the_image_has_the_debugpy_its_internals_were_written_for(
    client: docker.DockerClient, images: dict[str, str]
) -> None:
    check = "import debugpy_internals_adapter; print(debugpy_internals_adapter.version_mismatch())"
    assert in_dev_python(client, images, check) == "None"


# The race debugpy_internals_adapter.patch_report_sockets fixes, shown on the pinned debugpy in the dev
# image: the oldest session's client is gone (its channel closed) when a new
# client connects; the new client's Client.__init__ ends with report_sockets().
RACE = """
from debugpy.adapter import clients, servers, sessions
from debugpy.common import messaging

class GoneClient:
    is_connected = False
    def report_sockets(self):
        raise messaging.NoMoreMessages(stream=None)

session = sessions.Session()
with session:
    session.client = GoneClient()
session.register()
if sys.argv[1:] == ["fixed"]:
    import debugpy_internals_adapter
    debugpy_internals_adapter.patch_report_sockets()
try:
    sessions.report_sockets()
except messaging.NoMoreMessages:
    print("raised")
else:
    print("reported")
"""


@pytest.mark.parametrize(("launcher", "outcome"), [("as debugpy ships it", "raised"), ("fixed", "reported")])
def test_the_adapters_report_sockets_race(
    client: docker.DockerClient, images: dict[str, str], launcher: str, outcome: str
) -> None:
    assert in_dev_python(client, images, RACE, launcher) == outcome


# The race debugpy_internals_adapter.patch_attach_waits_for_its_server fixes, shown the same way:
# a debugger attaches while the session before it still holds the debug
# server's connection; that session then lets it go (Server.detach_from_session).
ENDING = """
import threading, types
from debugpy.adapter import clients, servers, sessions

if sys.argv[1:] == ["fixed"]:
    import debugpy_internals_adapter
    debugpy_internals_adapter.patch_attach_waits_for_its_server()

connection = types.SimpleNamespace(pid=7, server="held by the ending session", process_replaced=False)
servers._connections.append(connection)
ending = types.SimpleNamespace(
    is_connected=True,
    connection=connection,
    channel=types.SimpleNamespace(handlers=None, name="", stream=types.SimpleNamespace(name="")),
)
threading.Timer(0.5, servers.Server.detach_from_session, args=(ending,)).start()
found = servers.wait_for_connection(sessions.Session(), lambda conn: True, timeout=30)
print("free" if found is connection and found.server is None else "held")
"""


@pytest.mark.parametrize(("launcher", "outcome"), [("as debugpy ships it", "held"), ("fixed", "free")])
def test_the_adapters_attach_while_a_session_ends_race(
    client: docker.DockerClient, images: dict[str, str], launcher: str, outcome: str
) -> None:
    assert in_dev_python(client, images, ENDING, launcher) == outcome
