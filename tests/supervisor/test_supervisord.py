"""The dev image's PID 1 (supervisor/flask_uwsgi_supervisord.py), on the host:
supervisord with the image's own configuration, the uwsgi program's command
swapped for small shell scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAUNCHER = ROOT / "supervisor" / "flask_uwsgi_supervisord.py"
CONF = ROOT / "supervisor" / "supervisord.conf"


class Supervisord:
    def __init__(self, tmp_path: Path, command: str) -> None:
        self.tmp = tmp_path
        conf = CONF.read_text()
        conf = conf.replace("/usr/local/bin/docker-entrypoint.sh uwsgi", command)
        conf = conf.replace("/tmp/supervisord.pid", str(tmp_path / "supervisord.pid"))  # noqa: S108
        conf = conf.replace("/etc/flask-uwsgi/supervisor.d/*.conf", str(tmp_path / "*.conf"))
        (tmp_path / "supervisord.conf").write_text(conf)
        self.process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "-c", str(tmp_path / "supervisord.conf")],
            cwd=tmp_path,
            # As the entrypoint sets it (no drain: 0 + 9 s).
            env={**os.environ, "FLASK_UWSGI_STOP_WAIT": "9"},
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

    def start(command: str) -> Supervisord:
        started.append(Supervisord(tmp_path, command))
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
