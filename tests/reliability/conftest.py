"""The reliability suite: load, stops under load, recovery, bad configuration, hardening.

Real images and containers, with the fixtures of tests/images. These tests are
slow, so they run only when asked for: `make test-reliability`, `pytest
tests/reliability` (or a file in it), or `-m reliability`; a plain `pytest`
(make test) leaves them out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The image tests' fixtures, re-exported so pytest finds them for this folder too.
from tests.conftest import ROOT
from tests.support.containers import Running
from tests.support.selection import only_when_asked

HERE = Path(__file__).resolve().parent
# bench/report.lua prints wrk's totals, error counts and non-2xx count as JSON.
WRK_SCRIPT = ROOT / "bench" / "report.lua"


def wrk(url: str, seconds: int, connections: int, prefix: tuple[str, ...] = ()) -> dict:
    """wrk's report (report.lua) for ``seconds`` of load on ``url``, its output
    under "output"; ``prefix`` runs it through another command (nsenter)."""
    if not shutil.which("wrk"):
        pytest.fail("wrk is missing: `make test-reliability` installs Debian's wrk")
    out = subprocess.run(
        [*prefix, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    return {**json.loads(line.removeprefix("WRK_JSON ")), "output": out}


def in_namespace(app: Running) -> tuple[str, ...]:
    """A command prefix for the app container's network namespace: load on its
    loopback, with no docker-proxy (which piles up TIME_WAIT sockets on the
    host, and reads answers for slow clients)."""
    return ("nsenter", "-t", str(app.container.attrs["State"]["Pid"]), "-n")


def client_in_namespace(app: Running, script: str, *args: str, timeout: float) -> dict[str, Any]:
    """The JSON line of one of this folder's standard-library clients
    (new_connections.py, slow_readers.py), run in the app's network namespace."""
    out = subprocess.run(
        [*in_namespace(app), sys.executable, str(HERE / script), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    ).stdout
    return json.loads(out)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only_when_asked(config, items, HERE, "reliability")
