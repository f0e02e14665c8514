"""Killed processes come back: a uWSGI worker (both images), the uWSGI master (dev, by supervisord)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.containers import APPS, Running, http_get, process_table, wait_for

Run = Callable[..., Running]


def pid_of(app: Running, name: str) -> int | None:
    return next((pid for pid, _, cmd in process_table(app) if cmd == name), None)


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_killed_worker_is_respawned(run: Run, variant: str) -> None:
    app = run(variant, app=APPS / "slow")
    assert app.wait_http()[0] == 200
    master, worker = pid_of(app, "uWSGI master"), pid_of(app, "uWSGI worker 1")
    assert master and worker
    assert app.exec("bash", "-c", f"kill -KILL {worker}")[0] == 0
    app.wait_log(rf"worker 1 \(pid: {worker}\) died, killed by signal 9", timeout=10)
    wait_for(lambda: pid_of(app, "uWSGI worker 1") not in (None, worker), 10, "a new worker 1")
    # Every request after the kill is answered, by either worker.
    for _ in range(10):
        status, body = http_get(app.url())
        assert status == 200, body
    assert pid_of(app, "uWSGI master") == master
    assert app.status() == "running"


def test_killed_uwsgi_master_is_restarted(run: Run) -> None:
    app = run("dev", app=APPS / "slow")
    first = json.loads(app.wait_http()[1])["pid"]
    master = next(pid for pid, _, cmd in process_table(app) if cmd == "uWSGI master")
    app.exec("bash", "-c", f"kill -KILL {master}")
    app.wait_log(r"exited: uwsgi \(terminated by SIGKILL", timeout=10)

    def new_worker() -> int | None:
        status, body = app.wait_http()
        return status == 200 and json.loads(body)["pid"] != first and json.loads(body)["pid"]

    wait_for(new_worker, 30, "a new uWSGI serving")
    assert app.status() == "running"
    assert app.logs().count("spawned: 'uwsgi'") == 2
