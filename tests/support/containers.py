"""Real containers for the tests: start on 127.0.0.1, wait with deadlines, look inside, always remove."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from tests.conftest import ROOT

APPS = ROOT / "tests" / "images" / "apps"
HELLO = ROOT / "examples" / "hello"
PROD_IMAGE = os.environ.get("PROD_IMAGE", "flask-uwsgi:latest")
DEV_IMAGE = os.environ.get("DEV_IMAGE", "flask-uwsgi:dev")
LABEL = "io.github.flask-uwsgi.test"


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


def http_get(url: str, timeout: float = 10, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
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

    ``sessions``: a tests.support.dap Session or PortSessions; ``workers``: their pids.
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

        try:
            return wait_for(found, timeout, f"log line {pattern!r}")
        except AssertionError as error:
            raise AssertionError(f"{error}; the container's log ends:\n{self.logs()[-3000:]}") from None

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

    def raw(self, request: bytes, timeout: float = 10) -> bytes:
        """Send ``request`` as it is (no client library would send it); everything
        the server answers until it closes the connection (a read that waits
        longer than ``timeout`` fails)."""
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
            return answer

    def exec(self, *cmd: str, user: str = "") -> tuple[int, str]:
        result = self.container.exec_run(list(cmd), user=user)
        return result.exit_code, result.output.decode(errors="replace")


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


def listening_ports(running: Running) -> set[int]:
    """TCP ports listening beyond loopback inside the container (no netstat in the image).

    Loopback listeners are left out: debugpy's adapter talks to its worker on one.
    """
    status, out = running.exec("cat", "/proc/net/tcp", "/proc/net/tcp6")
    assert status == 0, out
    loopback = {"0100007F", "00000000000000000000000001000000"}
    ports = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
            address, port = fields[1].rsplit(":", 1)
            if address not in loopback:
                ports.add(int(port, 16))
    return ports


def connections_to(app: Running, port: int = 8080) -> int:
    """Established TCP connections to `port` inside the container (no ss or netstat there)."""
    status, out = app.exec("cat", "/proc/net/tcp", "/proc/net/tcp6")
    assert status == 0, out
    count = 0
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "01" and fields[1].rsplit(":", 1)[-1] == f"{port:04X}":
            count += 1
    return count


def process_table(running: Running) -> list[tuple[int, int, str]]:
    """(pid, uid, command line) of every process in the container."""
    script = (
        "for d in /proc/[0-9]*; do "
        'printf "%s %s %s\\n" "${d#/proc/}" "$(awk \'/^Uid:/{print $2}\' $d/status)" '
        "\"$(tr '\\0' ' ' < $d/cmdline)\"; done 2>/dev/null"
    )
    # As the image's user: on the dev image `docker exec` is root, and this
    # script's own processes are not the container's.
    status, out = running.exec("bash", "-c", script, user="10001")
    assert status == 0, out
    rows = []
    for line in out.splitlines():
        pid, uid, *cmd = line.split(" ", 2)
        if uid:  # else the process ended while the script read it
            rows.append((int(pid), int(uid), " ".join(cmd).strip()))
    return rows
