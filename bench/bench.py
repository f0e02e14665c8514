"""make bench: sizes, start and stop times, throughput and debugger costs of the images.

Everything runs on this machine in one go: the prod and dev images as built,
the same app under a hand-written bare uWSGI command line and under gunicorn
(gthread, same workers and threads) on the same base, a DAP client from
tests/dap.py, and wrk on the host against 127.0.0.1. Every figure is the
median of several runs, with min and max. Results go to bench/results/
(latest.json, latest.md) and into the README between the bench markers.

Settings (environment): BENCH_RUNS (5, cheap measures), BENCH_LOAD_RUNS (3,
rounds of load runs), BENCH_DURATION (10 s per load run), BENCH_WARMUP (3 s),
BENCH_CONNECTIONS (32), BENCH_SERVER_CPUS / BENCH_CLIENT_CPUS (CPU lists for
the containers and for wrk; "1" and "0" on a machine with 2 or more CPUs),
PROD_IMAGE, DEV_IMAGE, BASE_IMAGE (hint for the prod image's base), BUILD
(1: `make images` first; 0: measure the images as they are).

    python bench/bench.py            measure, write the results, update the README
    python bench/bench.py --render   only rebuild latest.md and the README from latest.json
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.dap import Session  # noqa: E402  (the project's own DAP client, not a package)

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
README = ROOT / "README.md"
HELLO = ROOT / "examples" / "hello"
WRK_SCRIPT = BENCH / "report.lua"
GUNICORN_IMAGE = "flask-uwsgi-bench-gunicorn:latest"
REBUILD_IMAGE = "flask-uwsgi-bench-rebuild:latest"
LABEL = "io.github.flask-uwsgi.bench"
# Debug mode as the examples run it: one debug port, every worker joining the
# session (a DAP client follows each worker's child session, as VS Code does).
DEBUG_ENV = {"DEBUGPY_ENABLE": "1"}
DEBUG_READY = r"^debugpy: worker \d+ ready to join the debug session"
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def default_cpus(which: str) -> str:
    # Two CPUs or more: the servers get CPU 1 and wrk CPU 0, so the load
    # generator never competes with the server it measures.
    if len(os.sched_getaffinity(0)) < 2:
        return ""
    return "1" if which == "server" else "0"


@dataclass
class Settings:
    prod: str = os.environ.get("PROD_IMAGE", "flask-uwsgi:latest")
    dev: str = os.environ.get("DEV_IMAGE", "flask-uwsgi:dev")
    base_hint: str = os.environ.get("BASE_IMAGE", "")
    runs: int = env_int("BENCH_RUNS", 5)
    load_runs: int = env_int("BENCH_LOAD_RUNS", 3)
    duration: int = env_int("BENCH_DURATION", 10)
    warmup: int = env_int("BENCH_WARMUP", 3)
    connections: int = env_int("BENCH_CONNECTIONS", 32)
    server_cpus: str = os.environ.get("BENCH_SERVER_CPUS", default_cpus("server"))
    client_cpus: str = os.environ.get("BENCH_CLIENT_CPUS", default_cpus("client"))


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, Any]:
    """Median, min and max of the runs, and the runs themselves."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": values,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 2) -> int | None:
    """The status of GET url, or None while nothing answers properly."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):
        return None


# --- containers --------------------------------------------------------------


@dataclass
class Server:
    """How to run one candidate: image, entrypoint override, command, variables."""

    name: str
    title: str
    image: str
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    # Workers to attach a debugger to (through the debug port, 5678).
    debug_workers: int = 0

    def describe(self) -> str:
        if self.entrypoint is None:
            settings = " ".join(f"{k}={v}" for k, v in self.env.items())
            return f"{self.image} as shipped" + (f", {settings}" if settings else "")
        return " ".join([*self.entrypoint, *(self.command or [])])


class Docker:
    """Starts labelled containers with the app mounted; removes every one of them."""

    def __init__(self, settings: Settings) -> None:
        self.client = docker.from_env(timeout=300)
        self.settings = settings
        self.started: list[Container] = []

    def run(self, server: Server, ports: tuple[int, ...] = (8080,)) -> tuple[Container, dict[int, int]]:
        debug_ports = (5678,) if server.debug_workers else ()
        mapping = {port: free_port() for port in (*ports, *debug_ports)}
        options: dict[str, Any] = {}
        if self.settings.server_cpus:
            options["cpuset_cpus"] = self.settings.server_cpus
        container = self.client.containers.run(
            server.image,
            server.command,
            entrypoint=server.entrypoint,
            detach=True,
            environment=server.env,
            ports={f"{p}/tcp": ("127.0.0.1", h) for p, h in mapping.items()},
            volumes={str(HELLO): {"bind": "/app", "mode": "ro"}},
            labels={LABEL: "1"},
            **options,
        )
        self.started.append(container)
        return container, mapping

    def remove(self, container: Container) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)

    def remove_all(self) -> None:
        for container in self.started:
            self.remove(container)
        self.started.clear()


def logs(container: Container) -> str:
    return container.logs().decode(errors="replace")


def wait_200(container: Container, url: str, timeout: float = 60) -> float:
    """Poll url every 10 ms until it answers 200; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 1
    while True:
        if http_status(url) == 200:
            return time.monotonic()
        now = time.monotonic()
        if now > next_check:
            container.reload()
            if container.status == "exited":
                raise RuntimeError(f"{container.image.tags} exited:\n{logs(container)[-2000:]}")
            next_check = now + 1
        if now > deadline:
            raise RuntimeError(f"no 200 from {url} within {timeout} s:\n{logs(container)[-2000:]}")
        time.sleep(0.01)


def wait_log(container: Container, pattern: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, logs(container), re.MULTILINE)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {pattern!r} in the logs within {timeout} s:\n{logs(container)[-2000:]}")
        time.sleep(0.05)


# --- images ------------------------------------------------------------------


def layers(client: docker.DockerClient, image: str) -> list[str]:
    return client.images.get(image).attrs["RootFS"]["Layers"]


def base_of(client: docker.DockerClient, image: str, hint: str = "") -> str | None:
    """The image `image` was built FROM: its label, the hint, else the local image
    whose layers are the longest proper prefix of its own."""
    labels = client.images.get(image).labels or {}
    ours = layers(client, image)
    candidates = [labels.get("org.opencontainers.image.base.name", ""), hint]
    for name in filter(None, candidates):
        with contextlib.suppress(docker.errors.ImageNotFound):
            theirs = layers(client, name)
            if len(theirs) < len(ours) and ours[: len(theirs)] == theirs:
                return name
    best, best_length = None, 0
    for candidate in client.images.list():
        theirs = candidate.attrs["RootFS"]["Layers"]
        if best_length < len(theirs) < len(ours) and ours[: len(theirs)] == theirs and candidate.tags:
            best, best_length = candidate.tags[0], len(theirs)
    return best


def measure_sizes(client: docker.DockerClient, settings: Settings) -> dict[str, Any]:
    size = {name: client.images.get(name).attrs["Size"] for name in (settings.prod, settings.dev)}
    base = base_of(client, settings.prod, settings.base_hint)
    base_size = client.images.get(base).attrs["Size"] if base else None
    dev_base = base_of(client, settings.dev, settings.prod)
    return {
        "prod_id": client.images.get(settings.prod).id,
        "dev_id": client.images.get(settings.dev).id,
        "prod": size[settings.prod],
        "dev": size[settings.dev],
        "base_image": base,
        "base": base_size,
        "prod_over_base": size[settings.prod] - base_size if base_size is not None else None,
        "dev_base_image": dev_base,
        "dev_over_prod": size[settings.dev] - size[settings.prod],
    }


def docker_build(context: Path, *args: str) -> None:
    """`docker build -q` with the classic builder (the images' default); its output only on failure."""
    result = subprocess.run(
        ["docker", "build", "-q", *args, "."],
        cwd=context,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    if result.returncode:
        raise RuntimeError(f"docker build {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def build_gunicorn(client: docker.DockerClient, settings: Settings) -> str:
    log(f"building {GUNICORN_IMAGE} on {settings.prod}")
    previous = None
    with contextlib.suppress(docker.errors.ImageNotFound):
        previous = client.images.get(GUNICORN_IMAGE).id
    docker_build(BENCH, "-f", "Dockerfile.gunicorn", "-t", GUNICORN_IMAGE, "--build-arg", f"PROD_IMAGE={settings.prod}")
    # Kept between runs (a rebuild on the same prod image is all cache); one built
    # on an older prod image is of no further use.
    if previous and previous != client.images.get(GUNICORN_IMAGE).id:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(previous)
    return GUNICORN_IMAGE


def versions(client: docker.DockerClient, settings: Settings) -> dict[str, str]:
    script = (
        "import platform, importlib.metadata as m; "
        "print(platform.python_version(), m.version('flask'), m.version('gunicorn'))"
    )
    out = client.containers.run(GUNICORN_IMAGE, ["python", "-c", script], remove=True).decode().split()
    uwsgi = client.containers.run(settings.prod, ["--version"], entrypoint=["uwsgi"], remove=True).decode().strip()
    return {"python": out[0], "flask": out[1], "gunicorn": out[2], "uwsgi": uwsgi}


# --- start, stop, debugger, rebuild -------------------------------------------


def measure_start_stop(box: Docker, server: Server, runs: int) -> dict[str, Any]:
    """Seconds from `docker run` to the first 200, then `docker stop` time and exit code."""
    starts, stops, codes = [], [], []
    for _ in range(runs):
        began = time.monotonic()
        container, mapping = box.run(server)
        starts.append(wait_200(container, f"http://127.0.0.1:{mapping[8080]}/") - began)
        began = time.monotonic()
        container.stop(timeout=10)
        stops.append(time.monotonic() - began)
        container.reload()
        codes.append(container.attrs["State"]["ExitCode"])
        box.remove(container)
    return {"start": summary(starts), "stop": summary(stops), "exit_codes": codes}


def breakpoint_line() -> int:
    lines = (HELLO / "main.py").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if "return {" in line)


def measure_breakpoint(box: Docker, dev: str, runs: int) -> dict[str, Any]:
    """Seconds from connecting a DAP client to the stop at a breakpoint in the view."""
    server = Server("dev-debug", "dev, debugger on", dev, env=DEBUG_ENV, debug_workers=1)
    main = str(HELLO / "main.py")
    mappings = [{"localRoot": str(HELLO), "remoteRoot": "/app"}]
    seconds = []
    for _ in range(runs):
        container, mapping = box.run(server)
        wait_log(container, DEBUG_READY)
        wait_200(container, f"http://127.0.0.1:{mapping[8080]}/")
        began = time.monotonic()
        with Session("127.0.0.1", mapping[5678], mappings, {main: [breakpoint_line()]}) as session:
            session.wait_joined(60)
            request = threading.Thread(target=http_status, args=(f"http://127.0.0.1:{mapping[8080]}/", 60), daemon=True)
            request.start()
            dap, stopped = session.wait_stop(60)
            seconds.append(time.monotonic() - began)
            dap.request("continue", {"threadId": stopped["threadId"]})
            request.join(30)
        box.remove(container)
    return summary(seconds)


def measure_rebuild(client: docker.DockerClient, prod: str, runs: int) -> dict[str, Any]:
    """Seconds to rebuild examples/hello's image after a one-line edit of main.py."""
    built: set[str] = set()
    seconds = []
    with tempfile.TemporaryDirectory(prefix="flask-uwsgi-bench-") as tmp:
        app = Path(tmp) / "hello"
        shutil.copytree(HELLO, app)
        dockerfile = app / "Dockerfile"
        # The example names flask-uwsgi:${VARIANT}; build on the image measured.
        dockerfile.write_text(re.sub(r"^FROM .*$", f"FROM {prod}", dockerfile.read_text(), flags=re.MULTILINE))
        main = app / "main.py"
        original = main.read_text().splitlines()
        edit_at = next(n for n, line in enumerate(original) if "greeting =" in line)

        def build() -> float:
            began = time.monotonic()
            docker_build(app, "-t", REBUILD_IMAGE)
            elapsed = time.monotonic() - began
            image = client.images.get(REBUILD_IMAGE).id
            # A cache hit would time nothing: each edit must make a new image.
            if image in built:
                raise RuntimeError("the edited app did not change the image")
            built.add(image)
            return elapsed

        try:
            build()  # the first build, not measured: the edit-rebuild loop is
            for run in range(runs):
                lines = list(original)
                lines[edit_at] = lines[edit_at].replace("worker pid", f"worker pid (edit {run + 1})")
                main.write_text("\n".join(lines) + "\n")
                seconds.append(build())
        finally:
            for image in built:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image, force=True)
    return summary(seconds)


# --- load ----------------------------------------------------------------------


def wrk(settings: Settings, url: str, seconds: int) -> dict[str, Any]:
    """One wrk run; its JSON report plus wrk's own CPU use (share of one CPU)."""
    command = [
        "wrk",
        "-t1",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    if settings.client_cpus:
        command = ["taskset", "-c", settings.client_cpus, *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    report = json.loads(line.removeprefix("WRK_JSON "))
    duration = report["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report["rps"] = report["requests"] / duration
    report["client_cpu"] = cpu / duration
    return report


def load_once(box: Docker, settings: Settings, server: Server) -> dict[str, Any]:
    container, mapping = box.run(server)
    clients: list[Session] = []
    try:
        url = f"http://127.0.0.1:{mapping[8080]}/"
        if server.debug_workers:
            wait_log(container, DEBUG_READY, count=server.debug_workers)
        wait_200(container, url)
        if server.debug_workers:
            # Attached as VS Code attaches, with no breakpoints set.
            session = Session("127.0.0.1", mapping[5678], [{"localRoot": str(HELLO), "remoteRoot": "/app"}], {})
            clients.append(session)
            for _ in range(server.debug_workers):
                session.wait_joined(60)
        if settings.warmup:
            wrk(settings, url, settings.warmup)
        return wrk(settings, url, settings.duration)
    finally:
        for dap in clients:
            dap.close()
        box.remove(container)


def servers(settings: Settings) -> list[Server]:
    app = ["--wsgi-file", "/app/main.py", "--callable", "app"]
    return [
        Server("prod", "flask-uwsgi prod", settings.prod),
        Server(
            "uwsgi",
            "bare uWSGI, hand-written command line",
            settings.prod,
            entrypoint=["uwsgi"],
            command=["--http-socket", ":8080", "--master", "--processes", "2", "--threads", "4", *app],
        ),
        Server(
            "gunicorn",
            "gunicorn gthread, 2 workers x 4 threads",
            GUNICORN_IMAGE,
            entrypoint=["gunicorn"],
            command=[
                "--bind",
                "0.0.0.0:8080",
                "--workers",
                "2",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--chdir",
                "/app",
                "main:app",
            ],
        ),
        Server("dev", "flask-uwsgi dev, debugger off", settings.dev),
        Server(
            "dev-attached",
            "flask-uwsgi dev, a debugger attached to both workers, no breakpoints",
            settings.dev,
            # Debug mode runs one worker unless told; two keep the comparison fair.
            env={**DEBUG_ENV, "UWSGI_PROCESSES": "2"},
            debug_workers=2,
        ),
        Server(
            "static",
            "static answer, no Python (uWSGI internal routing): the load generator's ceiling",
            settings.prod,
            entrypoint=["uwsgi"],
            command=[
                "--http-socket",
                ":8080",
                "--master",
                "--processes",
                "2",
                "--route-run",
                "return:200",
                "--disable-logging",
            ],
        ),
    ]


def measure_load(box: Docker, settings: Settings) -> dict[str, Any]:
    """Rounds of every candidate in turn, so a busy moment hits them all alike."""
    candidates = servers(settings)
    reports: dict[str, list[dict[str, Any]]] = {s.name: [] for s in candidates}
    for round_ in range(settings.load_runs):
        for server in candidates:
            log(f"load round {round_ + 1}/{settings.load_runs}: {server.name}")
            reports[server.name].append(load_once(box, settings, server))
    out: dict[str, Any] = {}
    for server in candidates:
        runs = reports[server.name]
        out[server.name] = {
            "title": server.title,
            "command": server.describe(),
            "rps": summary([r["rps"] for r in runs]),
            "p50_ms": summary([r["latency_us"]["p50"] / 1000 for r in runs]),
            "p99_ms": summary([r["latency_us"]["p99"] / 1000 for r in runs]),
            "client_cpu": summary([r["client_cpu"] for r in runs]),
            "socket_errors": sum(sum(r["errors"].values()) - r["errors"]["status"] for r in runs),
            "non2xx": sum(r["non2xx"] for r in runs),
            "requests": sum(r["requests"] for r in runs),
        }

    def ratios(name: str, reference: str, path: Callable[[dict], float]) -> dict[str, Any]:
        # Per round: each ratio compares two runs taken side by side.
        pairs = zip(reports[name], reports[reference], strict=True)
        return summary([path(a) / path(b) for a, b in pairs])

    for name, reference in (("prod", "uwsgi"), ("gunicorn", "uwsgi"), ("dev", "prod"), ("dev-attached", "prod")):
        out[name]["vs"] = reference
        out[name]["rps_ratio"] = ratios(name, reference, lambda r: r["rps"])
        out[name]["p50_ratio"] = ratios(name, reference, lambda r: r["latency_us"]["p50"])
        out[name]["p99_ratio"] = ratios(name, reference, lambda r: r["latency_us"]["p99"])
    return out


# --- machine -------------------------------------------------------------------


def machine(client: docker.DockerClient) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    others = [c for c in client.containers.list() if LABEL not in (c.labels or {})]
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "docker": client.version()["Version"],
        "load_average": os.getloadavg()[0],
        "other_containers": len(others),
    }


# --- report --------------------------------------------------------------------


def seconds(s: dict[str, Any], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} s ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def number(s: dict[str, Any], fmt: str) -> str:
    return f"{format(s['median'], fmt)} ({format(s['min'], fmt)}-{format(s['max'], fmt)})"


def megabytes(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def render(results: dict[str, Any]) -> str:
    m, s, cfg, load = results["machine"], results["sizes"], results["settings"], results["load"]
    v = results["versions"]
    pin = (
        f"servers pinned to CPU {cfg['server_cpus']}, wrk to CPU {cfg['client_cpus']}"
        if cfg["server_cpus"]
        else "no CPU pinning"
    )
    lines = [
        f"Measured {results['date']} on {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, "
        f"Docker {m['docker']}; load average {m['load_average']:.2f} at the start and "
        f"{results['machine_end']['load_average']:.2f} at the end, {m['other_containers']} other container(s) running. "
        f"Images: prod on `{s['base_image']}`, Python {v['python']}, Flask {v['flask']}, uWSGI {v['uwsgi']}, "
        f"gunicorn {v['gunicorn']}. Medians of {cfg['runs']} runs (load: {cfg['load_runs']} rounds), "
        "min-max in brackets.",
        "",
        "| | prod | dev |",
        "| --- | --- | --- |",
        f"| image size | {megabytes(s['prod'])} | {megabytes(s['dev'])} |",
        f"| added over its base | {megabytes(s['prod_over_base'])} over `{s['base_image']}` "
        f"({megabytes(s['base'])}) | {megabytes(s['dev_over_prod'])} over prod |",
        f"| `docker run` to first HTTP 200 | {seconds(results['start']['prod']['start'])} | "
        f"{seconds(results['start']['dev']['start'])}; "
        f"{seconds(results['start']['dev-debug']['start'])} with `DEBUGPY_ENABLE=1` |",
        f"| `docker stop`, idle | {seconds(results['start']['prod']['stop'])}, "
        f"exit {sorted(set(results['start']['prod']['exit_codes']))} | "
        f"{seconds(results['start']['dev']['stop'])}, exit {sorted(set(results['start']['dev']['exit_codes']))} |",
        f"| DAP connect to a hit breakpoint | | {seconds(results['breakpoint'])} |",
        f"| rebuild of a user image after a one-line edit | {seconds(results['rebuild'])} | |",
        "",
        f"Throughput of `examples/hello` (a small JSON view): wrk, 1 thread, {cfg['connections']} connections, "
        f"{cfg['duration']} s after a {cfg['warmup']} s warm-up, candidates in turn in each round; {pin}; "
        "every server 2 processes x 4 threads.",
        "",
        "| server | requests/s | p50 ms | p99 ms | requests/s ratio | p50 ratio | p99 ratio | socket errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("uwsgi", "prod", "gunicorn", "dev", "dev-attached", "static"):
        r = load[name]
        if "vs" in r:
            reference = "bare uWSGI" if r["vs"] == "uwsgi" else "prod"
            ratio = [f"{number(r[k], '.2f')} of {reference}" for k in ("rps_ratio", "p50_ratio", "p99_ratio")]
        else:
            ratio = ["1.00 (reference)" if name == "uwsgi" else "", "", ""]
        errors = f"{r['socket_errors']} in {r['requests']} requests" if r["socket_errors"] else "0"
        lines.append(
            f"| {r['title']} | {number(r['rps'], '.0f')} | {number(r['p50_ms'], '.1f')} | "
            f"{number(r['p99_ms'], '.1f')} | {' | '.join(ratio)} | {errors} |"
        )
    fastest = max(load[n]["rps"]["median"] for n in ("prod", "uwsgi", "gunicorn"))
    cpu = max(load[n]["client_cpu"]["max"] for n in load if n != "static")
    lines += [
        "",
        f"The load generator is not the bottleneck: against the static answer wrk made "
        f"{load['static']['rps']['median']:.0f} requests/s, {load['static']['rps']['median'] / fastest:.1f}x the "
        f"fastest candidate, and used at most {cpu:.0%} of its CPU while measuring the candidates. "
        "Socket errors are wrk's read errors: a bare uWSGI `http-socket` answers HTTP/1.1 without "
        "`Connection: close` and closes the connection, so each reused keep-alive connection ends in one; "
        "flask-uwsgi sends the header (uwsgi.ini's `add-header`), so clients open a new connection instead; "
        "gunicorn keeps connections alive.",
        "",
        "Commands: "
        + "; ".join(f"{load[n]['title']}: `{load[n]['command']}`" for n in ("uwsgi", "gunicorn", "static")),
    ]
    return "\n".join(lines) + "\n"


def update_readme(markdown: str) -> bool:
    text = README.read_text()
    if MARK_START not in text or MARK_END not in text:
        return False
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    README.write_text(f"{head}{MARK_START}\n{markdown}{MARK_END}{tail}")
    return True


def publish(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    markdown = render(results)
    (RESULTS / "latest.md").write_text(markdown)
    if update_readme(markdown):
        log("README.md updated between the bench markers")
    else:
        log(f"README.md has no {MARK_START} / {MARK_END} markers: not updated")
    print(markdown)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    log(f"{name}...")
    began = time.monotonic()
    yield
    log(f"{name}: {time.monotonic() - began:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--render", action="store_true", help="only rebuild latest.md and the README from latest.json")
    if parser.parse_args().render:
        publish(json.loads((RESULTS / "latest.json").read_text()))
        return 0

    settings = Settings()
    if not shutil.which("wrk"):
        log("wrk is missing (Debian package wrk; `make bench` installs it)")
        return 1
    if os.environ.get("BUILD", "1") != "0":
        subprocess.run(["make", "-s", "images"], cwd=ROOT, check=True)
    box = Docker(settings)
    began = time.monotonic()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(box.client),
        "settings": settings.__dict__,
    }
    try:
        with step("image sizes"):
            results["sizes"] = measure_sizes(box.client, settings)
        with step("gunicorn image"):
            build_gunicorn(box.client, settings)
            results["versions"] = versions(box.client, settings)
        with step("start and stop"):
            results["start"] = {
                "prod": measure_start_stop(box, Server("prod", "prod", settings.prod), settings.runs),
                "dev": measure_start_stop(box, Server("dev", "dev", settings.dev), settings.runs),
                "dev-debug": measure_start_stop(
                    box, Server("dev-debug", "dev", settings.dev, env=DEBUG_ENV), settings.runs
                ),
            }
        with step("breakpoint"):
            results["breakpoint"] = measure_breakpoint(box, settings.dev, settings.runs)
        with step("rebuild"):
            results["rebuild"] = measure_rebuild(box.client, settings.prod, settings.runs)
        with step("load"):
            results["load"] = measure_load(box, settings)
    finally:
        box.remove_all()
    results["machine_end"] = machine(box.client)
    sizes = results["sizes"]
    results["images_changed"] = [
        name
        for name, key in ((settings.prod, "prod_id"), (settings.dev, "dev_id"))
        if box.client.images.get(name).id != sizes[key]
    ]
    if results["images_changed"]:
        log(f"warning: {', '.join(results['images_changed'])} changed during the run: measure again")
    results["seconds"] = round(time.monotonic() - began)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    publish(results)
    log(f"done in {results['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
