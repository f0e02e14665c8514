"""make bench: the sections, each a set of measurements (see bench.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from common import APP, COMPOSE, HELLO, LOAD_WORKLOADS, PEERS_IMAGE, ROOT, Session, Settings, images, log, summary
from docker.models.containers import Container
from servers import (
    Box,
    Candidate,
    digest,
    hub_ready,
    pid_of,
    port_of,
    ratio,
    rounds,
    serving,
    status_inside,
    wait_until,
)

GRID = [(2, 1), (2, 4), (4, 1), (4, 2)]
# The router without keep-alive closes each connection: the app says so, as http-socket does.
NO_KEEPALIVE = {"HTTP_MODE": "router", "UWSGI_HTTP_KEEPALIVE": "0", "UWSGI_ADD_HEADER": "Connection: close"}
# OpenTelemetry's zero-code packages (in the peers image) exporting every span
# over OTLP/HTTP to a sink beside the app, in its container: what tracing
# costs the app, not what a collector costs.
TRACED = {
    "OTEL_SERVICE_NAME": "bench",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}
SPAN_SINK = ["python", "/app/otlp_sink.py", "4318"]


def bare(
    processes: int, threads: int, cpus: float | None = None, image: str = "flask-uwsgi:latest", http11: bool = False
) -> Candidate:
    """uWSGI's own command line, nothing of the image's. http11-socket keeps
    connections alive; http-socket cannot, so its answers say Connection: close
    (else clients would wait on a connection it will not use again)."""
    if http11:
        name, title = f"bare11-{processes}x{threads}", f"bare uWSGI http11-socket (keep-alive), {processes} x {threads}"
        command = ["--http11-socket", ":8080"]
    else:
        name, title = f"bare-{processes}x{threads}", f"bare uWSGI http-socket, {processes} x {threads}"
        command = ["--http-socket", ":8080", "--add-header", "Connection: close"]
    command += ["--master", "--disable-logging", "--processes", str(processes), "--threads", str(threads)]
    command += ["--enable-threads", "--thunder-lock", *APP]
    return Candidate(name, title, image, entrypoint=["uwsgi"], command=command, cpus=cpus)


def granian(workers: int, blocking_threads: int | None = None) -> Candidate:
    """Granian, its WSGI interface; blocking threads at its default unless given."""
    command = ["--interface", "wsgi", "--host", "0.0.0.0", "--port", "8080", "--workers", str(workers)]
    title = f"Granian {workers} worker(s)"
    name = f"granian-{workers}"
    if blocking_threads:
        command += ["--blocking-threads", str(blocking_threads)]
        title += f", {blocking_threads} blocking threads"
        name += f"x{blocking_threads}"
    command += ["--working-dir", "/app", "--factory", "benchapp:create_app"]
    return Candidate(name, title, PEERS_IMAGE, {}, ["granian"], command)


GUNICORN = ["--bind", "0.0.0.0:8080", "--workers", "2", "--threads", "4", "--worker-class", "gthread"]
GUNICORN += ["--chdir", "/app", "benchapp:create_app()"]


def gunicorn(*options: str) -> Candidate:
    """gunicorn gthread, 2 x 4, as its docs suggest for a threaded app."""
    name, title = "gunicorn", "gunicorn gthread 2 x 4, no access log (its default)"
    if options:
        name, title = "gunicorn-log", f"gunicorn gthread 2 x 4, {' '.join(options)}"
    return Candidate(name, title, PEERS_IMAGE, {}, ["gunicorn"], [*GUNICORN, *options])


def load_candidates(prod: str, dev: str) -> list[Candidate]:
    # The dev candidates: 2 workers (debug mode's default is 1) and no request log, as prod;
    # each at its own threads: 64 with the debugger off, debug mode's 16 with it on.
    quiet_dev = {"ACCESS_LOG": "0", "UWSGI_PROCESSES": "2"}
    debug = {**quiet_dev, "DEBUGPY_ENABLE": "1"}
    return [
        Candidate("prod", "flask-uwsgi prod, its defaults", prod),
        Candidate("prod-log", "prod, every request logged (ACCESS_LOG=1)", prod, {"ACCESS_LOG": "1"}),
        Candidate("prod-router", "prod, HTTP_MODE=router", prod, {"HTTP_MODE": "router"}),
        Candidate("prod-direct", "prod, HTTP_MODE=direct", prod, {"HTTP_MODE": "direct"}),
        Candidate("prod-router-close", "prod, router without keep-alive", prod, NO_KEEPALIVE),
        *(bare(p, t, image=prod) for p, t in GRID),
        *(bare(p, t, image=prod, http11=True) for p, t in GRID),
        granian(1),
        granian(2),
        granian(2, 8),
        gunicorn(),
        gunicorn("--access-logfile", "-"),
        Candidate("dev-off", "dev, debugger off", dev, quiet_dev),
        Candidate("dev-idle", "dev, DEBUGPY_ENABLE=1, nobody attached", dev, debug),
        Candidate("dev-attached", "dev, attached as VS Code attaches, no breakpoints", dev, debug, attach=True),
    ]


def section_load(box: Box, settings: Settings, prod: str, dev: str) -> dict[str, Any]:
    candidates = load_candidates(prod, dev)
    runs = rounds(box, settings, candidates, LOAD_WORKLOADS, settings.rounds)
    out: dict[str, Any] = {"candidates": {c.name: {"title": c.title, "command": c.describe()} for c in candidates}}
    # Its own settings: a later run of other sections may use others.
    out["settings"] = {key: getattr(settings, key) for key in ("connections", "duration", "warmup", "rounds")}
    for workload in LOAD_WORKLOADS:
        table = {c.name: digest(runs[c.name][workload]) for c in candidates}
        bares = [f"{kind}-{p}x{t}" for kind in ("bare", "bare11") for p, t in GRID]
        best = max(bares, key=lambda n: table[n]["rps"]["median"])
        best_granian = max((n for n in table if n.startswith("granian-")), key=lambda n: table[n]["rps"]["median"])
        table["best-bare"] = {"name": best}
        table["best-granian"] = {"name": best_granian}
        comparisons = {
            "prod/gunicorn": ("prod", "gunicorn"),
            "prod/best-bare": ("prod", best),
            "prod/granian": ("prod", "granian-1"),
            "prod/best-granian": ("prod", best_granian),
            "prod-log/prod": ("prod-log", "prod"),
            "prod-router/prod": ("prod-router", "prod"),
            "prod-direct/prod": ("prod-direct", "prod"),
            "prod-router-close/prod": ("prod-router-close", "prod"),
            "gunicorn-log/gunicorn": ("gunicorn-log", "gunicorn"),
            "dev-idle/dev-off": ("dev-idle", "dev-off"),
            "dev-attached/dev-off": ("dev-attached", "dev-off"),
        }
        table["ratios"] = {key: ratio(runs, a, b, workload) for key, (a, b) in comparisons.items()}
        table["cpu_ratios"] = {
            key: ratio(runs, a, b, workload, "cpu_us_per_request") for key, (a, b) in comparisons.items()
        }
        out[workload] = table
    return out


def section_costs(box: Box, settings: Settings, prod: str) -> dict[str, Any]:
    """What METRICS_PORT and tracing cost prod on the small view, where a
    cost per request shows most: more rounds than the load section, as the
    cost is smaller than a round's spread in requests/s; the server's CPU
    time per request moves less with other load."""
    candidates = [
        Candidate("prod", "flask-uwsgi prod, its defaults", prod),
        Candidate("prod-metrics", "prod, METRICS_PORT=9100 (every request counted)", prod, {"METRICS_PORT": "9100"}),
        Candidate(
            "prod-traced",
            "prod, traced: OpenTelemetry's zero-code packages, every span exported (OTLP/HTTP)",
            PEERS_IMAGE,
            TRACED,
            beside=SPAN_SINK,
        ),
    ]
    runs = rounds(box, settings, candidates, ["cpu"], 2 * settings.rounds)
    out: dict[str, Any] = {"candidates": {c.name: c.title for c in candidates}, "rounds": 2 * settings.rounds}
    out["cpu"] = {c.name: digest(runs[c.name]["cpu"]) for c in candidates}
    for name in ("prod-metrics", "prod-traced"):
        out[f"{name}/prod"] = {
            "rps": ratio(runs, name, "prod", "cpu"),
            "cpu_us": ratio(runs, name, "prod", "cpu", "cpu_us_per_request"),
        }
    return out


def section_concurrency(box: Box, settings: Settings, prod: str) -> dict[str, Any]:
    """Prod and its peers at their defaults and at their best: the 20 ms view
    at 256 kept-alive connections, and both views on one connection
    (latency), with each container's memory once it serves and after load."""
    candidates = [
        Candidate("prod", "flask-uwsgi prod, its defaults", prod),
        granian(1),
        granian(2),
        granian(2, 8),
        gunicorn(),
        bare(4, 1, image=prod, http11=True),
    ]
    workloads = ["io-256", "cpu-1", "io-1"]
    runs = rounds(box, settings, candidates, workloads, settings.rounds)
    out: dict[str, Any] = {"candidates": {c.name: c.title for c in candidates}}
    for workload in workloads:
        out[workload] = {c.name: digest(runs[c.name][workload]) for c in candidates}
    out["ratios"] = {
        "prod/gunicorn": ratio(runs, "prod", "gunicorn", "io-256"),
        "prod/granian": ratio(runs, "prod", "granian-1", "io-256"),
    }
    return out


def section_sizing(box: Box, settings: Settings, prod: str) -> dict[str, Any]:
    """The prod image at 1 and 2 CPUs with processes x threads chosen by hand,
    and at its defaults: both views, and the 20 ms view at 256 connections."""
    out: dict[str, Any] = {}
    for cpus in (1, 2):
        grid = [(cpus, 1), (cpus, 4), (cpus, 32), (2 * cpus, 1), (2 * cpus, 4), (2 * cpus, 16), (2 * cpus, 64)]
        grid += [(4 * cpus, 1)]
        candidates = [Candidate(f"{cpus}cpu-default", f"prod defaults ({2 * cpus} x 64)", prod, cpus=cpus)]
        candidates += [
            Candidate(
                f"{cpus}cpu-{p}x{t}",
                f"{p} x {t}",
                prod,
                {"UWSGI_PROCESSES": str(p), "UWSGI_THREADS": str(t)},
                cpus=cpus,
            )
            for p, t in grid
        ]
        workloads = [*LOAD_WORKLOADS, "io-256"]
        runs = rounds(box, settings, candidates, workloads, max(1, settings.rounds - 1))
        out[str(cpus)] = {
            workload: {c.name: {"title": c.title, **digest(runs[c.name][workload])} for c in candidates}
            for workload in workloads
        }
    return out


# More slow clients than prod's threads on 2 CPUs (4 x 64): a front that
# hands a worker thread to each runs out of them.
DRIPPERS = 320


def slow_clients(container: Container, bodies: bool, count: int = DRIPPERS, seconds: int = 10) -> dict[str, Any]:
    """``count`` connections dripping, while a client sends GET / on new
    connections: a header line every 2 s, or (``bodies``) a 64 KiB body's
    bytes, one a second."""
    port = port_of(container, 8080)
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    results: list[tuple[bool, float]] = []
    stop = threading.Event()

    def legitimate() -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    ok = response.status == 200
            except OSError:
                ok = False
            results.append((ok, time.monotonic() - began))

    try:
        for sock in slow:
            if bodies:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: 65536\r\n\r\n")
            else:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n")
        client = threading.Thread(target=legitimate, daemon=True)
        client.start()
        every = 1 if bodies else 2
        for line in range(seconds // every):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"x" if bodies else b"X-Drip-%d: x\r\n" % line)
            time.sleep(every)
        stop.set()
        client.join(10)
    finally:
        for sock in slow:
            sock.close()
    latencies = sorted(seconds for _, seconds in results)
    return {
        "answered": sum(ok for ok, _ in results),
        "failed": sum(not ok for ok, _ in results),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else None,
    }


def section_fronts(box: Box, prod: str) -> dict[str, Any]:
    fronts = [
        Candidate("nginx", "HTTP_MODE=nginx (default)", prod),
        Candidate("router", "HTTP_MODE=router", prod, {"HTTP_MODE": "router"}),
        Candidate("router-close", "router without keep-alive", prod, NO_KEEPALIVE),
        Candidate("direct", "HTTP_MODE=direct", prod, {"HTTP_MODE": "direct"}),
        Candidate(
            "direct-timeout-1", "direct, socket-timeout 1 s", prod, {"HTTP_MODE": "direct", "UWSGI_SOCKET_TIMEOUT": "1"}
        ),
    ]
    out: dict[str, Any] = {"drippers": DRIPPERS}
    for front in fronts:
        log(f"fronts: {front.name}")
        container = box.run(front, ports=(8080,))
        try:
            wait_until(lambda c=container: status_inside(c) == 200, 60, f"a 200 from {front.name}", container)
            stats = container.stats(stream=False)
            out[front.name] = {
                "title": front.title,
                "memory_mb": stats["memory_stats"]["usage"] / 1e6,
                "processes": len(container.top()["Processes"]),
                "slow_clients": slow_clients(container, bodies=False),
                "slow_bodies": slow_clients(container, bodies=True),
            }
        finally:
            box.remove(container)
    return out


# The reliability suite's slow downloads (standard library only), run in a
# server's network namespace: docker-proxy would read the files for them.
SLOW_READERS = ROOT / "tests" / "reliability" / "slow_readers.py"
# Twice prod's threads on 2 CPUs (4 x 64): at 320, a little over them,
# threads freed often enough that others were still answered.
READERS = 512


def section_offload(box: Box, settings: Settings, prod: str) -> dict[str, Any]:
    """uwsgi.ini's offload-threads (1 per worker) against none
    (UWSGI_OFFLOAD_THREADS=0): a 1 MiB file and the small view at the load
    section's connections, in rounds; then, in each HTTP mode, READERS
    clients downloading an 8 MiB file slowly for 10 s while one client sends
    GET / (its answers, failures, p99)."""
    off = {"UWSGI_OFFLOAD_THREADS": "0"}
    candidates = [
        Candidate("prod", "flask-uwsgi prod, its defaults (offload-threads 1)", prod),
        Candidate("prod-offload-0", "prod, UWSGI_OFFLOAD_THREADS=0", prod, off),
    ]
    workloads = ["file", "cpu"]
    runs = rounds(box, settings, candidates, workloads, settings.rounds)
    out: dict[str, Any] = {"candidates": {c.name: c.title for c in candidates}, "readers": READERS}
    for workload in workloads:
        out[workload] = {c.name: digest(runs[c.name][workload]) for c in candidates}
        out[workload]["prod-offload-0/prod"] = ratio(runs, "prod-offload-0", "prod", workload)
    out["slow_readers"] = {}
    for mode in ("nginx", "router", "direct"):
        for name, env in ((mode, {}), (f"{mode}-offload-0", off)):
            log(f"offload: slow readers, {name}")
            candidate = Candidate(name, name, prod, {"HTTP_MODE": mode, **env})
            with serving(box, candidate) as container:
                command = ["nsenter", "-t", str(pid_of(container)), "-n", sys.executable, str(SLOW_READERS)]
                command += ["127.0.0.1", "8080", str(READERS), "/file/8", "10"]
                report = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout
                out["slow_readers"][name] = json.loads(report)
    return out


def section_debugger(box: Box, settings: Settings, pythons: list[str]) -> dict[str, Any]:
    out = {}
    for python in pythons:
        _, dev = images(python)
        # Debug mode's 16 threads for "off" too: the debugger's cost alone.
        quiet = {"ACCESS_LOG": "0", "UWSGI_PROCESSES": "2", "UWSGI_THREADS": "16"}
        debug = {**quiet, "DEBUGPY_ENABLE": "1"}
        candidates = [
            Candidate("off", "debugger off", dev, quiet),
            Candidate("idle", "on, nobody attached", dev, debug),
            Candidate("attached", "attached as VS Code attaches, no breakpoints", dev, debug, attach=True),
        ]
        runs = rounds(box, settings, candidates, ["cpu"], max(2, settings.rounds - 1))
        out[python] = {
            "rps": {c.name: summary([r["rps"] for r in runs[c.name]["cpu"]]) for c in candidates},
            "idle/off": ratio(runs, "idle", "off", "cpu"),
            "attached/off": ratio(runs, "attached", "off", "cpu"),
        }
    return out


def section_start(box: Box, pythons: list[str], repeat: int = 5) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for python in pythons:
        prod, dev = images(python)
        sizes = {name: box.client.images.get(name).attrs["Size"] for name in (prod, dev)}
        result: dict[str, Any] = {"prod_mb": sizes[prod] / 1e6, "dev_mb": sizes[dev] / 1e6}
        variants = [("prod", prod, {}), ("dev", dev, {}), ("dev-debug", dev, {"DEBUGPY_ENABLE": "1"})]
        for name, image, env in variants:
            starts, stops, codes = [], [], []
            for _ in range(repeat):
                began = time.monotonic()
                container = box.run(Candidate(name, name, image, env), app=HELLO)
                wait_until(lambda c=container: status_inside(c) == 200, 60, f"a 200 from {image}", container)
                starts.append(time.monotonic() - began)
                began = time.monotonic()
                container.stop(timeout=10)
                stops.append(time.monotonic() - began)
                container.reload()
                codes.append(container.attrs["State"]["ExitCode"])
                box.remove(container)
            result[name] = {"start": summary(starts), "stop": summary(stops), "exit_codes": sorted(set(codes))}
        out[python] = result
        log(f"start: Python {python} done")
    return out


def copy_of(example: Path) -> Path:
    """A copy of an example, readable and writable by any container user."""
    copy = Path(tempfile.mkdtemp(prefix="flask-uwsgi-bench-"))
    shutil.copytree(example, copy, dirs_exist_ok=True)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    return copy


def shows(url: str, text: str) -> bool:
    """Whether GET url answers with ``text`` in its body (connection errors: not yet)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (127.0.0.1 only)
            return text in response.read().decode()
    except OSError:
        return False


def edits(source: Path, url: Callable[[], str], count: int) -> list[float]:
    """Seconds from saving an edited view to the first answer that shows it."""
    main = source / "main.py"
    seconds = []
    for number in range(count):
        time.sleep(1)  # (between edits: not part of what is measured)
        marker = f"edit {number} {time.time()}"
        text = re.sub(r'greeting = f"[^"]*"', f'greeting = f"{marker}"', main.read_text())
        saved = time.monotonic()
        main.write_text(text)
        wait_until(lambda marker=marker: shows(url(), marker), 30, "the edited view")
        seconds.append(time.monotonic() - saved)
    return seconds


def section_reload(box: Box, dev: str, prod: str, count: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {}
    source = copy_of(HELLO)
    try:
        env = {"HOT_RELOAD": "1", "DEBUGPY_ENABLE": "1", "UWSGI_PROCESSES": "2"}
        container = box.run(Candidate("reload", "reload", dev, env), app=source, ports=(8080,))
        port = port_of(container, 8080)
        wait_until(lambda: status_inside(container) == 200, 60, "the dev container", container)
        out["bind mount"] = summary(edits(source, lambda: f"http://127.0.0.1:{port}/", count))
        box.remove(container)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    watch_file = HELLO / "compose.watch.yaml"
    if watch_file.exists():
        out["compose watch"] = summary(compose_watch_edits(dev, prod, count))
    return out


def compose_watch_edits(dev: str, prod: str, count: int) -> list[float]:
    source = copy_of(HELLO)
    project = f"flask-uwsgi-bench-{os.getpid()}"
    files = ["-f", "compose.yaml", "-f", "compose.override.yaml", "-f", "compose.watch.yaml"]
    env = {**os.environ, "FLASK_UWSGI_IMAGE": prod, "FLASK_UWSGI_DEV_IMAGE": dev, "HTTP_PORT": "", "DEBUG_PORTS": ""}
    compose = [COMPOSE, "-p", project, *files]
    watch = subprocess.Popen(
        [*compose, "watch"], cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:

        def url() -> str:
            out = subprocess.run([*compose, "port", "web", "8080"], cwd=source, env=env, capture_output=True, text=True)
            return f"http://{out.stdout.strip()}/"

        address = wait_until(lambda: url() if "127.0.0.1:" in url() else None, 120, "the watched stack")
        wait_until(lambda: shows(address, "Hello"), 60, "the watched app")
        return edits(source, lambda: address, count)
    finally:
        watch.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            watch.wait(30)
        subprocess.run([*compose, "down", "-v", "-t", "0"], cwd=source, env=env, capture_output=True)
        shutil.rmtree(source, ignore_errors=True)


def section_attach(box: Box, prod: str, dev: str, repeat: int = 5) -> dict[str, Any]:
    main = HELLO / "main.py"
    line = next(n for n, text in enumerate(main.read_text().splitlines(), 1) if "return {" in text)
    mappings = [{"localRoot": str(HELLO), "remoteRoot": "/app"}]
    seconds = []
    for _ in range(repeat):
        container = box.run(Candidate("attach", "attach", dev, {"DEBUGPY_ENABLE": "1"}), app=HELLO, ports=(8080, 5678))
        wait_until(lambda c=container: status_inside(c) == 200, 60, "the dev container", container)
        wait_until(lambda c=container: hub_ready(c, 1), 60, "the debug hub", container)
        url = f"http://127.0.0.1:{port_of(container, 8080)}/"
        began = time.monotonic()
        with Session("127.0.0.1", port_of(container, 5678), mappings, {str(main): [line]}) as session:
            session.wait_joined(60)
            request = threading.Thread(target=urllib.request.urlopen, args=(url,), kwargs={"timeout": 60}, daemon=True)
            request.start()
            dap, stopped = session.wait_stop(60)
            seconds.append(time.monotonic() - began)
            dap.request("continue", {"threadId": stopped["threadId"]})
            request.join(30)
        box.remove(container)
    return {"breakpoint": summary(seconds), "rebuild": rebuild(box, prod, repeat)}


def rebuild(box: Box, prod: str, repeat: int) -> dict[str, Any]:
    """Seconds to rebuild examples/hello's image after a one-line edit (classic builder)."""
    source = copy_of(HELLO)
    tag = "flask-uwsgi-bench-rebuild:latest"
    seconds = []
    try:
        command = ["docker", "build", "-q", "--build-arg", f"FLASK_UWSGI_IMAGE={prod}", "-t", tag, "."]
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        subprocess.run(command, cwd=source, env=env, check=True, capture_output=True)
        main = source / "main.py"
        for number in range(repeat):
            main.write_text(main.read_text() + f"\n# edit {number}\n")
            began = time.monotonic()
            subprocess.run(command, cwd=source, env=env, check=True, capture_output=True)
            seconds.append(time.monotonic() - began)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            box.client.images.remove(tag, force=True)
        shutil.rmtree(source, ignore_errors=True)
    return summary(seconds)
