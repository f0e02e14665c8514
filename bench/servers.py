"""make bench: the servers measured (candidates, in containers), and the load put on
them (wrk, in their network namespace)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from common import BENCH, LABEL, VIEWS, WORKLOADS, WRK_SCRIPT, Session, Settings, log, summary, time_wait
from docker.models.containers import Container


@dataclass
class Candidate:
    """One server: its image and how it is started."""

    name: str
    title: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    cpus: float | None = None  # docker run --cpus
    attach: bool = False  # a DAP client attached, no breakpoints
    beside: list[str] | None = None  # run in the container once it serves (docker exec), e.g. a span sink

    def describe(self) -> str:
        if self.entrypoint:
            return " ".join([*self.entrypoint, *(self.command or [])])
        return " ".join([f"{self.image}", *(f"{k}={v}" for k, v in self.env.items())])


class Box:
    """Starts labelled containers with the bench app; removes every one."""

    def __init__(self) -> None:
        self.client = docker.from_env(timeout=300)
        self.started: list[Container] = []

    def run(self, candidate: Candidate, app: Path = BENCH / "app", ports: tuple[int, ...] = ()) -> Container:
        options: dict[str, Any] = {}
        if candidate.cpus:
            options["nano_cpus"] = int(candidate.cpus * 1e9)
        env = dict(candidate.env)
        if app == BENCH / "app":
            env.setdefault("APP_MODULE", "benchapp:create_app()")
        container = self.client.containers.run(
            candidate.image,
            candidate.command,
            entrypoint=candidate.entrypoint,
            detach=True,
            environment=env,
            volumes={str(app): {"bind": "/app", "mode": "ro"}},
            ports={f"{p}/tcp": ("127.0.0.1", None) for p in ports},
            labels={LABEL: "1"},
            **options,
        )
        self.started.append(container)
        container.reload()
        return container

    def remove(self, container: Container) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)

    def remove_all(self) -> None:
        for container in self.started:
            self.remove(container)
        self.started.clear()


def pid_of(container: Container) -> int:
    container.reload()
    return container.attrs["State"]["Pid"]


def port_of(container: Container, port: int) -> int:
    container.reload()
    return int(container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def status_inside(container: Container, path: str = "/") -> int | None:
    """GET path on the container's own loopback (its network namespace)."""
    url = f"http://127.0.0.1:8080{path}"
    command = ["nsenter", "-t", str(pid_of(container)), "-n", "curl", "-s", "-o", "/dev/null", "-m", "2"]
    out = subprocess.run([*command, "-w", "%{http_code}", url], capture_output=True, text=True).stdout
    return int(out) if out.isdigit() and out != "000" else None


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, container: Container | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if container is not None:
            container.reload()
            if container.status == "exited":
                raise RuntimeError(f"{what}: the container exited:\n{container.logs().decode()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout} s")
        time.sleep(0.01)


def usage(container: Container) -> tuple[float, float]:
    """The container's CPU time so far, in microseconds, and its memory as
    `docker stats` shows it, in MiB: its cgroup's usage less the page cache
    it can drop (inactive files)."""
    stats = container.stats(stream=False, one_shot=True)
    memory = stats["memory_stats"]
    inactive = memory.get("stats", {})
    inactive = inactive.get("inactive_file", inactive.get("total_inactive_file", 0))  # cgroup v2, v1
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e3, (memory["usage"] - inactive) / 2**20


def wrk(container: Container, path: str, seconds: int, connections: int) -> dict[str, Any]:
    """One wrk run inside the container's network namespace; its JSON report."""
    pid = pid_of(container)
    before = time_wait(), time_wait(pid)
    command = ["nsenter", "-t", str(pid), "-n", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", "5s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:8080{path}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    report = json.loads(line.removeprefix("WRK_JSON "))
    report["rps"] = report["requests"] / (report["duration_us"] / 1e6)
    report["time_wait"] = {"host": [before[0], time_wait()], "server": [before[1], time_wait(pid)]}
    return report


def hub_ready(container: Container, workers: int) -> bool:
    logs = container.logs().decode()
    return "(every worker)" in logs and f"worker {workers} ready to join the debug session" in logs


@contextlib.contextmanager
def serving(box: Box, candidate: Candidate, path: str = "/") -> Iterator[Container]:
    """A started candidate, answering, with its debugger attached if asked."""
    container = box.run(candidate, ports=(5678,) if candidate.attach else ())
    session = None
    try:
        wait_until(lambda: status_inside(container, path) == 200, 60, f"a 200 from {candidate.name}", container)
        if candidate.attach:
            workers = int(candidate.env.get("UWSGI_PROCESSES", "1"))
            wait_until(lambda: hub_ready(container, workers), 60, "the debug hub", container)
            mappings = [{"localRoot": str(BENCH / "app"), "remoteRoot": "/app"}]
            session = Session("127.0.0.1", port_of(container, 5678), mappings, {})
            for _ in range(workers):
                session.wait_joined(60)
        if candidate.beside:
            container.exec_run(candidate.beside, detach=True)
        yield container
    finally:
        if session is not None:
            session.close()
        box.remove(container)


def measure(box: Box, settings: Settings, candidate: Candidate, workload: str) -> dict[str, Any]:
    """One run of ``workload`` (WORKLOADS: a view, and connections if not the
    settings'), with the container's memory once it serves and after the run,
    and its CPU time per request."""
    view, connections = WORKLOADS[workload]
    path, connections = VIEWS[view], connections or settings.connections
    with serving(box, candidate, path) as container:
        _, idle = usage(container)
        if settings.warmup:
            wrk(container, path, settings.warmup, connections)
        cpu_before, _ = usage(container)
        report = wrk(container, path, settings.duration, connections)
        cpu_after, loaded = usage(container)
        # The server's own CPU per request (wrk runs outside its cgroup):
        # what a feature costs, less moved than requests/s by other load.
        cpu = (cpu_after - cpu_before) / max(1, report["requests"])
        return {**report, "memory_mib": {"idle": idle, "load": loaded}, "cpu_us_per_request": cpu}


def rounds(box: Box, settings: Settings, candidates: list[Candidate], workloads: list[str], count: int) -> dict:
    """``count`` rounds of every candidate on every workload, in turn; per candidate and workload, the runs."""
    runs: dict[str, dict[str, list[dict]]] = {c.name: {w: [] for w in workloads} for c in candidates}
    for number in range(count):
        for workload in workloads:
            for candidate in candidates:
                log(f"round {number + 1}/{count}, {workload}: {candidate.name}")
                runs[candidate.name][workload].append(measure(box, settings, candidate, workload))
    return runs


def digest(runs: list[dict]) -> dict[str, Any]:
    return {
        "rps": summary([r["rps"] for r in runs]),
        "p50_ms": summary([r["latency_us"]["p50"] / 1000 for r in runs]),
        "p99_ms": summary([r["latency_us"]["p99"] / 1000 for r in runs]),
        "errors": sum(sum(r["errors"].values()) - r["errors"]["status"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "memory_mib": {when: summary([r["memory_mib"][when] for r in runs]) for when in ("idle", "load")},
        "cpu_us": summary([r["cpu_us_per_request"] for r in runs]),
        "time_wait": [r["time_wait"] for r in runs],
    }


def ratio(runs: dict, name: str, reference: str, workload: str, key: str = "rps") -> dict[str, Any]:
    """Requests per second (or ``key``) of ``name`` over ``reference``, round by round."""
    pairs = zip(runs[name][workload], runs[reference][workload], strict=True)
    return summary([a[key] / b[key] for a, b in pairs])
