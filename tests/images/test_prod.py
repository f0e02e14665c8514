"""The prod image: serves, non-root, no debugger, graceful and fast to stop."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.containers import APPS, Running, http_get, listening_ports, process_table, wait_for

Run = Callable[..., Running]


def test_serves_the_example(run: Run) -> None:
    app = run()
    status, body = app.wait_http()
    assert status == 200
    assert json.loads(body)["message"].startswith("Hello from flask-uwsgi")


def test_runs_as_non_root_under_tini(run: Run) -> None:
    app = run()
    app.wait_http()
    assert app.exec("id", "-u") == (0, "10001\n")
    procs = process_table(app)
    pid1 = next(cmd for pid, _, cmd in procs if pid == 1)
    assert pid1.startswith("tini -- docker-entrypoint.sh")
    uwsgi = [(uid, cmd) for _, uid, cmd in procs if "uWSGI" in cmd]
    assert {cmd for _, cmd in uwsgi} >= {"uWSGI master", "uWSGI worker 1", "uWSGI worker 2"}
    assert {uid for uid, _ in uwsgi} == {10001}


def test_has_no_debugger_and_no_supervisor(run: Run) -> None:
    app = run(command=["sleep", "60"], ports=())
    status, out = app.exec(
        "bash",
        "-c",
        "find / -xdev \\( -iname '*debugpy*' -o -iname '*pydevd*' -o -iname '*supervisor*' \\) -print 2>/dev/null",
    )
    assert out.strip() == ""
    status, out = app.exec("python", "-c", "import debugpy")
    assert status != 0 and "ModuleNotFoundError" in out
    assert app.exec("bash", "-c", "command -v supervisord")[0] != 0


def test_debugpy_enable_warns_and_opens_no_port(run: Run) -> None:
    app = run(env={"DEBUGPY_ENABLE": "1"}, ports=(8080, 5678))
    assert app.wait_http()[0] == 200
    assert (
        "flask-uwsgi: warning: DEBUGPY_ENABLE=1 is ignored: this image has no debugger (use the :dev image)"
        in app.logs()
    )
    assert listening_ports(app) == {8080}
    # The published port leads nowhere: the connection is dropped, nothing speaks.
    with socket.create_connection(("127.0.0.1", app.ports[5678]), timeout=5) as sock:
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""


def test_factory_form_of_app_module(run: Run) -> None:
    app = run(app=APPS / "factory", env={"APP_MODULE": 'factoryapp:create_app("bonjour")'})
    status, body = app.wait_http()
    assert status == 200
    assert json.loads(body) == {"greeting": "bonjour", "factory": "create_app"}


def test_port_variable(run: Run) -> None:
    app = run(env={"PORT": "9090"}, ports=(9090,))
    app.ports[8080] = app.ports[9090]
    assert app.wait_http()[0] == 200
    assert listening_ports(app) == {9090}


def test_user_image_writes_instance_folder_and_sqlite_without_chown(
    run: Run, build: Callable[..., str], images: dict[str, str]
) -> None:
    tag = build(APPS / "sqlite", "flask-uwsgi-test-sqlite:latest", BASE_IMAGE=images["prod"])
    app = run(image=tag, app=None)
    status, body = app.wait_http()
    assert status == 200, body
    first = json.loads(body)
    assert first["database"] == "/app/instance/app.sqlite"
    assert first["uid"] == 10001
    assert json.loads(http_get(app.url())[1])["visits"] == first["visits"] + 1


def test_healthcheck(run: Run) -> None:
    # Empty test: keep the image's HEALTHCHECK command, just check every 0.5 s.
    app = run(healthcheck={"test": [], "interval": 500_000_000, "start_period": 0})
    app.wait_http()

    def health() -> str:
        app.container.reload()
        return app.container.attrs["State"]["Health"]["Status"]

    wait_for(lambda: health() == "healthy", 30, "a healthy container")
    assert app.exec("flask-uwsgi-healthcheck") == (0, "healthy: GET / answered 200\n")


def test_healthcheck_passes_below_500_and_fails_from_500(run: Run) -> None:
    app = run(app=APPS / "slow")
    app.wait_http()
    assert app.exec("env", "HEALTHCHECK_PATH=/missing", "flask-uwsgi-healthcheck") == (
        0,
        "healthy: GET /missing answered 404\n",
    )
    assert app.exec("env", "HEALTHCHECK_PATH=/slow?seconds=x", "flask-uwsgi-healthcheck") == (
        1,
        "unhealthy: GET /slow?seconds=x answered 500\n",
    )


def test_healthcheck_fails_without_a_server(run: Run) -> None:
    app = run(command=["sleep", "60"], ports=())
    status, out = app.exec("flask-uwsgi-healthcheck")
    assert (status, out) == (1, "unhealthy: nothing accepts connections on port 8080\n")


def test_command_instead_of_server(run: Run) -> None:
    app = run(command=["python", "-c", "print('just a command')"], ports=())
    assert app.wait_exit(30) == 0
    assert app.logs() == "just a command\n"


def test_extra_uwsgi_arguments(run: Run) -> None:
    app = run(app=APPS / "config", command=["--processes", "4"])
    _status, body = app.wait_http()
    assert json.loads(body)["numproc"] == 4


def test_access_log_off_logs_only_errors_and_slow_requests(run: Run) -> None:
    no_healthcheck = {"healthcheck": {"test": ["NONE"]}}  # its requests would be logged too
    quiet = run(app=APPS / "slow", **no_healthcheck)
    quiet.wait_http("/?m=ready")
    assert http_get(quiet.url("/?m=fast"))[0] == 200
    assert http_get(quiet.url("/missing"))[0] == 404
    assert http_get(quiet.url("/slow?seconds=1.2&m=slow"))[0] == 200
    wait_for(lambda: "GET /slow?seconds=1.2&m=slow =>" in quiet.logs(), 10, "the slow request logged")
    logs = quiet.logs()
    assert "GET /missing =>" in logs and "(HTTP/1.1 404)" in logs
    assert "GET /?m=fast =>" not in logs and "GET /?m=ready =>" not in logs
    every = run(app=APPS / "slow", env={"ACCESS_LOG": "1"}, **no_healthcheck)
    every.wait_http("/?m=ready")
    assert http_get(every.url("/?m=fast"))[0] == 200
    wait_for(lambda: "GET /?m=fast =>" in every.logs(), 10, "the request logged")


def stop_seconds(app: Running) -> float:
    started = time.monotonic()
    app.container.stop(timeout=10)
    return time.monotonic() - started


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_idle_stop_is_fast_and_clean(run: Run, variant: str) -> None:
    app = run(variant)
    app.wait_http()
    seconds = stop_seconds(app)
    assert app.exit_code() == 0
    assert seconds < 3, f"docker stop took {seconds:.2f} s"


def test_bind_mounted_app_need_not_be_writable(run: Run, readable_dir: Path) -> None:
    (readable_dir / "main.py").write_text(
        "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'read-only is fine']\n"
    )
    app = run(app=readable_dir)
    assert app.wait_http() == (200, "read-only is fine")
