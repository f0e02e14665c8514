"""Real images, real containers: build once per run, run on 127.0.0.1, always clean up.

The images are built by `make images` (once per test run) unless BUILD=0, in
which case PROD_IMAGE and DEV_IMAGE are tested as they are.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import ROOT

APPS = Path(__file__).resolve().parent / "apps"
HELLO = ROOT / "examples" / "hello"
PROD_IMAGE = os.environ.get("PROD_IMAGE", "flask-uwsgi:latest")
DEV_IMAGE = os.environ.get("DEV_IMAGE", "flask-uwsgi:dev")
LABEL = "io.github.flask-uwsgi.test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.image)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def holds(predicate: Callable[[], Any], seconds: float, interval: float = 0.1) -> bool:
    """Poll for `seconds`: True if predicate() stayed truthy throughout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return bool(predicate())


def http_get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_served(url: str, text: str, timeout: float, what: str) -> None:
    """Poll ``url`` until its body contains ``text``; a refused or reset
    connection (a server reloading) counts as not yet."""

    def served() -> bool:
        try:
            return text in http_get(url, timeout=5)[1]
        except OSError:
            return False

    wait_for(served, timeout, what, interval=0.05)


def every_worker_stops(sessions: Any, url: str, location: tuple[str, int], workers: set[int]) -> None:
    """A request per worker stops at ``location`` (host path, line), each in
    another worker, while the earlier ones stay paused; then all complete with 200.

    ``sessions``: a tests.dap Session or PortSessions; ``workers``: their pids.
    """
    results: list[tuple[int, str]] = []
    threads: list[threading.Thread] = []

    def fire() -> None:
        thread = threading.Thread(target=lambda: results.append(http_get(url, timeout=120)), daemon=True)
        thread.start()
        threads.append(thread)

    stops = sessions.stop_in_turn(fire, len(workers))
    for stop in stops:
        assert (stop.frame["source"]["path"], stop.frame["line"]) == location
    assert {stop.pid for stop in stops} == workers, "every worker stopped at the breakpoint"
    for stop in stops:
        stop.resume()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in results] == [200] * len(workers)


@dataclass
class Running:
    """A started container and the host ports it was given on 127.0.0.1."""

    container: Container
    ports: dict[int, int] = field(default_factory=dict)

    @property
    def http_port(self) -> int:
        return self.ports[8080]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def logs(self) -> str:
        return self.container.logs(stdout=True, stderr=True).decode(errors="replace")

    def status(self) -> str:
        self.container.reload()
        return self.container.status

    def exit_code(self) -> int:
        self.container.reload()
        return self.container.attrs["State"]["ExitCode"]

    def wait_exit(self, timeout: float) -> int:
        return self.container.wait(timeout=timeout)["StatusCode"]

    def wait_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        regex = re.compile(pattern, re.MULTILINE)

        def found() -> re.Match[str] | None:
            match = regex.search(self.logs())
            if not match and self.status() == "exited":
                raise AssertionError(f"container exited before logging {pattern!r}:\n{self.logs()[-3000:]}")
            return match

        return wait_for(found, timeout, f"log line {pattern!r}")

    def wait_http(self, path: str = "/", timeout: float = 60) -> tuple[int, str]:
        """Poll until the app answers with any status (connection errors retried)."""

        def answer() -> tuple[int, str] | None:
            try:
                return http_get(self.url(path), timeout=5)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if self.status() == "exited":
                    raise AssertionError(f"container exited:\n{self.logs()[-3000:]}") from None
                return None

        return wait_for(answer, timeout, f"an HTTP answer from {self.url(path)}")

    def exec(self, *cmd: str, user: str = "") -> tuple[int, str]:
        result = self.container.exec_run(list(cmd), user=user)
        return result.exit_code, result.output.decode(errors="replace")


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return docker.from_env(timeout=300)


@pytest.fixture(scope="session")
def images(client: docker.DockerClient) -> dict[str, str]:
    """The prod and dev image names, built once for the whole run."""
    if os.environ.get("BUILD", "1") != "0":
        subprocess.run(["make", "-s", "images"], cwd=ROOT, check=True)
    for name in (PROD_IMAGE, DEV_IMAGE):
        client.images.get(name)  # fails the run early if missing
    return {"prod": PROD_IMAGE, "dev": DEV_IMAGE}


def start_container(
    client: docker.DockerClient,
    image: str,
    started: list[Container],
    *,
    app: Path | None = HELLO,
    env: dict[str, str] | None = None,
    command: list[str] | str | None = None,
    ports: tuple[int, ...] = (8080,),
    **kwargs: Any,
) -> Running:
    """Start a container (detached, ports on 127.0.0.1, the app in ``app``
    mounted read-only on /app); it is added to ``started`` for removal."""
    volumes = {str(app): {"bind": "/app", "mode": "ro"}} if app else {}
    volumes.update(kwargs.pop("volumes", {}))
    container = client.containers.run(
        image,
        command,
        detach=True,
        environment=env or {},
        ports={f"{p}/tcp": ("127.0.0.1", None) for p in ports},
        volumes=volumes,
        labels={LABEL: "1"},
        **kwargs,
    )
    started.append(container)
    running = Running(container)
    if ports:
        running.ports = wait_for(lambda: published(container, ports), 10, "published ports")
    return running


def remove_all(started: list[Container]) -> None:
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


@pytest.fixture
def run(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., Running]]:
    """Start containers (``start_container``) of a variant ("prod", "dev") or
    ``image``; all are removed afterwards."""
    started: list[Container] = []

    def start(variant: str = "prod", *, image: str | None = None, **kwargs: Any) -> Running:
        return start_container(client, image or images[variant], started, **kwargs)

    yield start
    remove_all(started)


def published(container: Container, ports: tuple[int, ...]) -> dict[int, int] | None:
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"] or {}
    found = {}
    for port in ports:
        entries = bindings.get(f"{port}/tcp") or []
        for entry in entries:
            assert entry["HostIp"] == "127.0.0.1", entry
            found[port] = int(entry["HostPort"])
    if container.status == "exited":
        return {}
    return found if len(found) == len(ports) else None


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A temporary folder the container's user can read (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="flask-uwsgi-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def build(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., str]]:
    """Build a user image from a folder (classic builder); removed afterwards."""
    built: list[str] = []

    def make(context: Path, tag: str, **buildargs: str) -> str:
        subprocess.run(
            [
                "docker",
                "build",
                "-q",
                "-t",
                tag,
                *(f"--build-arg={k}={v}" for k, v in buildargs.items()),
                ".",
            ],
            cwd=context,
            check=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        built.append(tag)
        return tag

    yield make
    for tag in built:
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(tag, force=True)
