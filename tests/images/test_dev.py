"""The dev image: supervisord as PID 1 running uWSGI, logs on stdout, restarts."""

from __future__ import annotations

from collections.abc import Callable

from tests.images.conftest import Running
from tests.images.test_prod import listening_ports, process_table

Run = Callable[..., Running]


def test_supervisord_is_pid_1_and_runs_uwsgi(run: Run) -> None:
    app = run("dev")
    assert app.wait_http()[0] == 200
    procs = process_table(app)
    pid1 = next(cmd for pid, _, cmd in procs if pid == 1)
    assert "flask-uwsgi-supervisord" in pid1
    assert {uid for _, uid, _ in procs} == {10001}
    assert any(cmd == "uWSGI master" for _, _, cmd in procs)
    # debugger off: nothing but the app's port
    assert listening_ports(app) == {8080}
    assert "debugpy" not in app.logs()


def test_logs_go_to_stdout_and_no_log_files(run: Run) -> None:
    app = run("dev")
    app.wait_http()
    logs = app.logs()
    assert "supervisord started with pid 1" in logs
    assert "spawned uWSGI worker 1" in logs
    _status, out = app.exec("bash", "-c", "find / -xdev -name '*.log' -newer /proc/1 2>/dev/null")
    assert out.strip() == ""


def test_uwsgi_exit_ends_the_container_with_its_status(run: Run) -> None:
    app = run("dev")
    app.wait_http()
    master = next(pid for pid, _, cmd in process_table(app) if cmd == "uWSGI master")
    # SIGINT makes uWSGI shut down by itself (exit status 0 would be the same path).
    app.exec("bash", "-c", f"kill -INT {master}")
    assert app.wait_exit(timeout=20) == 0
    assert "uwsgi exited with status 0; stopping the container" in app.logs()
