"""The dev image's PID 1 (supervisor/flask_uwsgi_supervisord.py), on the host:
supervisord with the image's own configuration, the uwsgi program's command
swapped for small shell scripts."""

from __future__ import annotations

import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAUNCHER = ROOT / "supervisor" / "flask_uwsgi_supervisord.py"
# The supervisor release whose internals the launcher relies on.
LAUNCHER_SUPERVISOR = re.search(r'^SUPERVISOR_VERSION = "(.+)"$', LAUNCHER.read_text(), re.MULTILINE)[1]
CONF = ROOT / "supervisor" / "supervisord.conf"


class Supervisord:
    def __init__(self, tmp_path: Path, command: str, launcher: list[str] | None = None) -> None:
        self.tmp = tmp_path
        conf = CONF.read_text()
        conf = conf.replace("/tmp/supervisord.pid", str(tmp_path / "supervisord.pid"))  # noqa: S108
        conf = conf.replace("%(ENV_FLASK_UWSGI_ETC)s/supervisor.d/*.conf", str(tmp_path / "*.conf"))
        (tmp_path / "supervisord.conf").write_text(conf)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*(launcher or [sys.executable, str(LAUNCHER)]), "-c", str(tmp_path / "supervisord.conf")],
            cwd=tmp_path,
            # As the entrypoint sets it (no drain: 0 s, uwsgi.ini's 8 s mercy, 1 s).
            env={**os.environ, "FLASK_UWSGI_STOP_WAIT": "9", "FLASK_UWSGI_COMMAND": command},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait(self, timeout: float = 10) -> tuple[int, str]:
        output, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, output


@pytest.fixture
def supervisord(tmp_path: Path):
    started: list[Supervisord] = []

    def start(command: str, launcher: list[str] | None = None) -> Supervisord:
        started.append(Supervisord(tmp_path, command, launcher))
        return started[-1]

    yield start
    for each in started:
        if each.process.poll() is None:
            each.process.kill()
            each.process.wait()


@pytest.mark.parametrize("status", [0, 1, 22])
def test_uwsgi_exiting_by_itself_ends_supervisord_with_its_status(supervisord, status: int) -> None:
    status_seen, output = supervisord(f"sh -c 'exit {status}'").wait()
    assert status_seen == status
    assert f"uwsgi exited with status {status}; stopping the container" in output
    assert output.count("spawned: 'uwsgi'") == 1  # no restart loop


def test_uwsgi_that_cannot_be_spawned_ends_supervisord_with_127(supervisord, tmp_path: Path) -> None:
    status, output = supervisord(str(tmp_path / "no-such-program")).wait()
    assert status == 127
    assert "uwsgi could not be started" in output


def test_uwsgi_killed_by_a_signal_is_restarted_and_sigterm_stops_fast(supervisord, tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    # The first run dies of SIGKILL (as from the OOM killer); the second stays up.
    script = f"echo x >> {starts}; [ $(wc -l < {starts}) -ge 2 ] && exec sleep 60; kill -KILL $$"
    daemon = supervisord(f'sh -c "{script}"')
    deadline = time.monotonic() + 10
    while not (starts.exists() and len(starts.read_text().split()) >= 2):
        assert time.monotonic() < deadline, "uwsgi was not restarted"
        time.sleep(0.05)
    stopping = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    status, output = daemon.wait()
    # The signal wakes supervisord's poll at once; 1 s is its poll timeout.
    assert time.monotonic() - stopping < 1
    assert status == 0
    assert "exited: uwsgi (terminated by SIGKILL; not expected)" in output
    assert output.count("spawned: 'uwsgi'") == 2


def test_programs_in_supervisor_d_run_beside_uwsgi(supervisord, tmp_path: Path) -> None:
    """README: /etc/flask-uwsgi/supervisor.d/*.conf adds [program:x] sections."""
    marker = tmp_path / "watcher-ran"
    (tmp_path / "watcher.conf").write_text(f"[program:watcher]\ncommand = sh -c 'touch {marker}; exec sleep 60'\n")
    daemon = supervisord("sleep 60")
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the program from supervisor.d did not start"
        time.sleep(0.05)
    daemon.process.send_signal(signal.SIGTERM)
    status, output = daemon.wait()
    assert status == 0
    assert "spawned: 'watcher'" in output and "spawned: 'uwsgi'" in output


def start_and_stop_seconds(supervisord, tmp_path: Path, launcher: list[str] | None) -> tuple[float, float]:
    """Seconds from launch to uwsgi's start, and from SIGTERM to supervisord's exit."""
    started = tmp_path / "uwsgi-started"
    started.unlink(missing_ok=True)
    daemon = supervisord(f"sh -c 'touch {started}; exec sleep 60'", launcher)
    deadline = time.monotonic() + 10
    while not started.exists():
        assert time.monotonic() < deadline, "uwsgi was not started"
        time.sleep(0.01)
    start = time.monotonic() - daemon.started
    stopping = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    daemon.wait()
    return start, time.monotonic() - stopping


def test_the_private_hooks_are_worth_a_second_each_way(supervisord, tmp_path: Path) -> None:
    """The launcher reaches into supervisord's loop (see its docstring): this is what that buys.

    Plain supervisord starts its programs only after its first 1 s poll, and
    acts on SIGTERM when that poll times out; the launcher does both at once.
    """
    ours = start_and_stop_seconds(supervisord, tmp_path, None)
    plain = start_and_stop_seconds(supervisord, tmp_path, [sys.executable, "-m", "supervisor.supervisord"])
    print(
        f"start, stop: launcher {ours[0]:.2f} s, {ours[1]:.2f} s; plain supervisord {plain[0]:.2f} s, {plain[1]:.2f} s"
    )
    assert plain[0] - ours[0] > 0.5 and plain[1] - ours[1] > 0.5, (ours, plain)


def test_supervisor_is_the_version_the_hooks_were_written_for() -> None:
    pins = {
        name: re.search(r"^supervisor==(\S+)", (ROOT / "requirements" / name).read_text(), re.MULTILINE)[1]
        for name in ("supervisor.txt", "test.txt")
    }
    assert pins == {"supervisor.txt": LAUNCHER_SUPERVISOR, "test.txt": LAUNCHER_SUPERVISOR}
    assert importlib.metadata.version("supervisor") == LAUNCHER_SUPERVISOR
