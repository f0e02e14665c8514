"""A rolling replacement behind a real load balancer loses no request (with the drain).

Like a pod: one network namespace (a container that only sleeps) shared by
the app containers, each on its own port, and HAProxy (Debian's) on
127.0.0.1:8080 in the same namespace, checking each server's health path
every 0.5 s. wrk, in the namespace too, keeps 20 connections busy while each
app container is replaced in turn as a rolling update does it: start the
new one, wait until HAProxy sends it traffic, stop the old one. Everything
stays on the namespace's loopback (no published port, no docker-proxy).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import wrk
from tests.support.containers import APPS, Running, wait_for

Run = Callable[..., Running]
CLIENTS = 20
SECONDS = 30

HAPROXY_CFG = """
global
    stats socket {socket} mode 600 level admin
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 5s
    # A connection refused or reset before anything was sent goes to another
    # server: what a load balancer does anyway.
    retries 3
    option redispatch
frontend web
    bind 127.0.0.1:8080
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 1 rise 1
{servers}
"""
PORTS = (8081, 8082, 8083, 8084)


def nsenter(pid: int, *command: str) -> list[str]:
    return ["nsenter", "-t", str(pid), "-n", *command]


class Pod:
    """A network namespace, HAProxy in it, and app containers joining it."""

    def __init__(self, run: Run, tmp: Path) -> None:
        self.run = run
        self.holder = run(command=["sleep", "infinity"], ports=(), app=None)
        self.holder.container.reload()
        self.pid = self.holder.container.attrs["State"]["Pid"]
        self.socket = tmp / "haproxy.sock"
        config = tmp / "haproxy.cfg"
        servers = "\n".join(f"    server s{p} 127.0.0.1:{p} check" for p in PORTS)
        config.write_text(HAPROXY_CFG.format(socket=self.socket, servers=servers))
        self.haproxy = subprocess.Popen(nsenter(self.pid, "haproxy", "-db", "-q", "-f", str(config)))
        wait_for(self.socket.exists, 10, "HAProxy's stats socket")

    def start_app(self, port: int, drain: int) -> Running:
        env = {"PORT": str(port), "HEALTHCHECK_PATH": "/healthz", "STOP_DRAIN_SECONDS": str(drain)}
        app = self.run(app=APPS / "health", env=env, ports=(), network_mode=f"container:{self.holder.container.id}")
        wait_for(lambda: self.status(port) == "UP", 30, f"HAProxy sending traffic to port {port}")
        return app

    def status(self, port: int) -> str:
        """HAProxy's view of the server on ``port``: UP, DOWN, ..."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.socket))
            admin.sendall(b"show stat\n")
            data = b""
            while chunk := admin.recv(65536):
                data += chunk
        for line in data.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "app" and fields[1] == f"s{port}":
                return fields[17]
        return "?"

    def close(self) -> None:
        self.haproxy.terminate()
        self.haproxy.wait(10)


@pytest.fixture
def pod(run: Run, tmp_path: Path) -> Iterator[Pod]:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is missing: `make test-reliability` installs Debian's haproxy")
    tmp_path.chmod(0o755)
    made = Pod(run, tmp_path)
    yield made
    made.close()


def failures(report: dict) -> int:
    """Requests that got no 2xx: socket errors, timeouts and other statuses."""
    errors = report["errors"]
    return errors["connect"] + errors["read"] + errors["write"] + errors["timeout"] + report["non2xx"]


def rolling_replacement(pod: Pod, drain: int) -> dict:
    """wrk's report for SECONDS of load while both app containers are replaced in turn."""
    old = [pod.start_app(8081, drain), pod.start_app(8082, drain)]
    report: dict = {}

    def load() -> None:
        report.update(wrk("http://127.0.0.1:8080/", SECONDS, CLIENTS, prefix=tuple(nsenter(pod.pid))))

    loader = threading.Thread(target=load, daemon=True)
    began = time.monotonic()
    loader.start()
    wait_for(lambda: time.monotonic() - began > 3, 5, "load under way")
    for previous, port in zip(old, (8083, 8084), strict=True):
        pod.start_app(port, drain)
        previous.container.stop(timeout=drain + 10)
        assert previous.exit_code() == 0
    assert time.monotonic() - began < SECONDS - 2, "the replacement must happen under load"
    loader.join(SECONDS + 60)
    return report


def test_rolling_replacement_with_the_drain_loses_nothing(pod: Pod) -> None:
    report = rolling_replacement(pod, drain=3)
    failed = failures(report)
    print(f"drain 3 s: {report['requests']} requests answered 2xx, {failed} failed")
    assert report["requests"] > 1000
    assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    assert report["non2xx"] == 0


def test_rolling_replacement_without_the_drain_shows_what_is_lost(pod: Pod) -> None:
    # Not a failure: this is why the drain exists. The numbers go in the log.
    report = rolling_replacement(pod, drain=0)
    failed = failures(report)
    print(f"no drain: {report['requests']} requests answered, {failed} failed: {report['errors']}")
    assert report["requests"] > 1000
