"""make bench: settings, paths and small helpers every part uses."""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The project's own facts (python-versions, the pinned Compose) and DAP client.
from devkit.dap import Session  # noqa: E402, F401
from devkit.project import COMPOSE, DEFAULT_PYTHON, python_versions  # noqa: E402, F401

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PAGE = ROOT / "docs" / "performance.md"
HELLO = ROOT / "examples" / "hello"
WRK_SCRIPT = BENCH / "report.lua"
PEERS_IMAGE = "flask-uwsgi-bench-peers:latest"
LABEL = "io.github.flask-uwsgi.bench"
MARK_START, MARK_END = "<!-- bench:start -->", "<!-- bench:end -->"
VIEWS = {"cpu": "/", "io": "/io", "file": "/file/1"}
# A view, and its connections: None for BENCH_CONNECTIONS (the load section's
# two), or a fixed count (the concurrency section's).
WORKLOADS: dict[str, tuple[str, int | None]] = {
    "cpu": ("cpu", None),
    "io": ("io", None),
    "io-256": ("io", 256),
    "cpu-1": ("cpu", 1),
    "io-1": ("io", 1),
    "file": ("file", None),
}
LOAD_WORKLOADS = ["cpu", "io"]
APP = ["--module", "benchapp:create_app()", "--chdir", "/app", "--pythonpath", "/app"]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass
class Settings:
    rounds: int = env_int("BENCH_ROUNDS", 3)
    duration: int = env_int("BENCH_DURATION", 8)
    warmup: int = env_int("BENCH_WARMUP", 2)
    connections: int = env_int("BENCH_CONNECTIONS", 32)
    only: list[str] = field(default_factory=lambda: [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s])
    pythons: list[str] = field(default_factory=lambda: os.environ.get("BENCH_PYTHONS", "").split())


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "median": statistics.median(values),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "runs": values,
    }


def make_env() -> dict[str, str]:
    """The environment for make: image names follow PYTHON_VERSION, not a caller's PROD_IMAGE."""
    return {k: v for k, v in os.environ.items() if k not in ("PROD_IMAGE", "DEV_IMAGE", "BASE_IMAGE")}


@functools.cache
def images(python: str) -> tuple[str, str]:
    """The prod and dev image names `make images PYTHON_VERSION=python` tags (the Makefile's rule)."""
    command = ["make", "-s", "--no-print-directory", f"PYTHON_VERSION={python}"]
    command += ["ci-print-PROD_IMAGE", "ci-print-DEV_IMAGE"]
    prod, dev = subprocess.run(
        command, cwd=ROOT, env=make_env(), capture_output=True, text=True, check=True
    ).stdout.split()
    return prod, dev


def time_wait(pid: int | None = None) -> int:
    """Sockets in TIME_WAIT in the host's network namespace (or process pid's)."""
    where = f"/proc/{pid}/net" if pid else "/proc/net"
    count = 0
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            count += sum(1 for line in Path(where, name).read_text().splitlines()[1:] if line.split()[3] == "06")
    return count
