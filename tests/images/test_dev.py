"""The dev image: supervisord as PID 1 running uWSGI, logs on stdout, restarts."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.containers import APPS, Running, http_get, listening_ports, process_table, wait_for

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


def test_every_request_is_logged(run: Run) -> None:
    """The dev image sets ACCESS_LOG=1."""
    app = run("dev")
    app.wait_http("/?m=ready")
    assert http_get(app.url("/?m=fast"))[0] == 200
    wait_for(lambda: "GET /?m=fast =>" in app.logs(), 10, "the request logged")


def test_uwsgi_exit_ends_the_container_with_its_status(run: Run) -> None:
    app = run("dev")
    app.wait_http()
    master = next(pid for pid, _, cmd in process_table(app) if cmd == "uWSGI master")
    # SIGINT makes uWSGI shut down by itself (exit status 0 would be the same path).
    app.exec("bash", "-c", f"kill -INT {master}")
    assert app.wait_exit(timeout=20) == 0
    assert "uwsgi exited with status 0; stopping the container" in app.logs()


@pytest.fixture
def owned_tree(readable_dir: Path) -> Callable[[int], Path]:
    """The sqlite app's source in a folder owned by ``uid`` (mode 755, as a developer's checkout)."""

    def make(uid: int) -> Path:
        tree = readable_dir / f"src-{uid}"
        shutil.copytree(APPS / "sqlite" / "app", tree)
        for path in [tree, *tree.rglob("*")]:
            os.chown(path, uid, uid)
            path.chmod(0o755 if path.is_dir() else 0o644)
        return tree

    return make


@pytest.mark.parametrize("uid", [1000, 4242])
def test_bind_mounted_source_is_written_as_its_owner(run: Run, owned_tree: Callable[[int], Path], uid: int) -> None:
    tree = owned_tree(uid)
    app = run("dev", app=None, env={"DEBUGPY_ENABLE": "1"}, volumes={str(tree): {"bind": "/app", "mode": "rw"}})
    status, body = app.wait_http()
    assert status == 200, body
    assert json.loads(body) == {"database": "/app/instance/app.sqlite", "visits": 1, "uid": uid}
    assert json.loads(http_get(app.url())[1])["visits"] == 2
    # On the host, what the app created belongs to the developer.
    for created in (tree / "instance", tree / "instance" / "app.sqlite"):
        assert (created.stat().st_uid, created.stat().st_gid) == (uid, uid), created
    # Nothing the container runs is root: supervisord, uWSGI, its workers, the
    # debug hub and debugpy's adapter all run as the mount's owner.
    app.wait_log(r"debugpy listening on 0\.0\.0\.0:5678 \(every worker\)")
    table = [(uid_, cmd) for _, uid_, cmd in process_table(app) if "for d in /proc" not in cmd and cmd]
    commands = " ".join(cmd for _, cmd in table)
    expected = (
        "flask-uwsgi-supervisord",
        "uWSGI master",
        "uWSGI worker 1",
        "debugpy_hub.py",
        "debugpy_adapter.py /usr/local/lib/flask-uwsgi/debugpy/debugpy/adapter",
    )
    for name in expected:
        assert name in commands, table
    owners = {uid_ for uid_, cmd in table if not cmd.startswith(("awk", "tr ", "bash -c for"))}
    assert owners == {uid}, table
    assert app.exec("id", "-u")[1].strip() == "0"  # docker exec: root, as configured


def test_copied_source_runs_as_the_image_user(run: Run, build: Callable[..., str], images: dict[str, str]) -> None:
    tag = build(APPS / "sqlite", "flask-uwsgi-test-sqlite:dev", BASE_IMAGE=images["dev"])
    app = run(image=tag, app=None)
    status, body = app.wait_http()
    assert status == 200, body
    assert json.loads(body)["uid"] == 10001


def test_an_explicit_user_is_kept(run: Run, readable_dir: Path) -> None:
    app = run("dev", user="4321:0")
    assert app.wait_http()[0] == 200
    assert {uid for _, uid, cmd in process_table(app) if cmd.startswith("uWSGI")} == {4321}


def test_docker_exec_as_app_runs_as_the_owner_of_app_like_the_server(
    run: Run, owned_tree: Callable[[int], Path]
) -> None:
    tree = owned_tree(1000)
    app = run("dev", app=None, volumes={str(tree): {"bind": "/app", "mode": "rw"}})
    assert json.loads(app.wait_http()[1])["uid"] == 1000
    # What VS Code's terminal in a dev container runs as (remoteUser "app").
    status, out = app.exec("sh", "-c", "id -u; id -g; id -G; echo $HOME; touch /app/made-by-app", user="app")
    assert status == 0, out
    uid, gid, groups, home = out.split("\n")[:4]
    assert (uid, gid, home) == ("1000", "1000", "/home/app")
    assert "0" in groups.split(), "group 0 beside its own, as the server has"
    made = tree / "made-by-app"
    assert (made.stat().st_uid, made.stat().st_gid) == (1000, 1000)


def test_read_only_etc_keeps_app_as_it_is_and_serves(run: Run, owned_tree: Callable[[int], Path]) -> None:
    tree = owned_tree(1000)
    volumes = {str(tree): {"bind": "/app", "mode": "rw"}}
    app = run("dev", app=None, volumes=volumes, read_only=True, tmpfs={"/tmp": ""})
    assert app.wait_http()[0] == 200
    assert "`docker exec -u app` does not run as the server's uid 1000" in app.logs()
    assert app.exec("id", "-u", user="app") == (0, "10001\n")
