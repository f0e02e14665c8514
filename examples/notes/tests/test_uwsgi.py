"""The app as its image serves it: the image's boot sequence, uWSGI and its workers.

Runs inside the app's test image (the app's Dockerfile on the flask-uwsgi dev
image, plus requirements-test.txt), where /app holds the app and
docker-entrypoint.sh is the image's entrypoint; skipped anywhere else. The
CI/CD component's test job runs there.

Under coverage (`coverage run -m pytest`), uWSGI's workers measure themselves:
coverage's .pth file in /opt/venv, the environment uWSGI runs, starts coverage
in every Python process given COVERAGE_PROCESS_START (this run's configuration
file). Each worker saves its data when it exits gracefully, and the test puts
the files beside this run's own, for `coverage combine`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENTRYPOINT = shutil.which("docker-entrypoint.sh")
APP = Path("/app")

pytestmark = pytest.mark.skipif(
    ENTRYPOINT is None or not (APP / "notes").is_dir(),
    reason="runs inside the app's test image (docker-entrypoint.sh, the app in /app)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    return status, json.loads(text) if text.startswith("{") else text


def measuring() -> Any:
    """This run's coverage, when pytest runs under it."""
    try:
        import coverage
    except ImportError:
        return None
    return coverage.Coverage.current()


class Server:
    """The image's entrypoint (the dev image: supervisord, then uWSGI) as a child process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["PORT"])
        self.log = log
        with log.open("wb") as output:
            # cwd /app: where `docker run` starts it (WORKDIR).
            self.process = subprocess.Popen([ENTRYPOINT], cwd=APP, env=env, stdout=output, stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited ({self.process.returncode}):\n{self.output()}"
            try:
                if request(self.url("/healthz"))[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"no answer from {self.url('/healthz')} within {timeout} s:\n{self.output()}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as `docker stop` sends it: a graceful stop."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Writable by whoever uWSGI runs as: the dev image's entrypoint, started
    # as root, goes on as /app's owner.
    path = Path(tempfile.mkdtemp(prefix="notes-uwsgi-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_served_by_uwsgi_and_stopped_gracefully(workdir: Path) -> None:
    cov = measuring()
    data = workdir / "coverage"
    data.mkdir(mode=0o1777)
    data.chmod(0o1777)
    env = {
        **os.environ,
        "PORT": str(free_port()),
        "UWSGI_PROCESSES": "2",
        # One thread per worker: its main thread, the one coverage traces.
        # The threads uWSGI adds (threads > 1) are its own, not Python's
        # threading ones, and coverage's tracer is not set in them.
        "UWSGI_THREADS": "1",
        "NOTES_DATABASE": str(workdir / "notes.sqlite3"),
        # The runtime folder the entrypoint makes afresh, away from any other server.
        "FLASK_UWSGI_RUN": str(workdir / "run"),
    }
    if cov is not None:
        # A copy, in case the checkout is not readable by uWSGI's user (the
        # dev image's entrypoint, started as root, goes on as /app's owner).
        config = Path(cov.config.config_file)
        env["COVERAGE_PROCESS_START"] = str(shutil.copy(config, workdir / config.name))
        env["COVERAGE_FILE"] = str(data / ".coverage")
    server = Server(env, workdir / "server.log")
    try:
        server.wait_ready()
        assert request(server.url("/api/notes"), {"text": "served by uWSGI"}) == (
            201,
            {"id": 1, "text": "served by uWSGI"},
        )
        # Enough requests that both workers take some.
        for _ in range(6):
            status, body = request(server.url("/api/notes"))
            assert (status, [n["text"] for n in body["notes"]]) == (200, ["served by uWSGI"])
        assert request(server.url("/healthz")) == (200, {"status": "ok"})
        status, page = request(server.url("/"))
        assert status == 200 and "served by uWSGI" in page
        assert server.stop() == 0, server.output()
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    # prestart.sh created the database before uWSGI started.
    assert "notes: database ready at" in server.output()
    if cov is not None:
        saved = sorted(data.glob(".coverage.*"))
        assert saved, f"uWSGI's workers saved no coverage data:\n{server.output()}"
        destination = Path(cov.config.data_file).resolve().parent
        for path in saved:
            shutil.move(path, destination / path.name)
