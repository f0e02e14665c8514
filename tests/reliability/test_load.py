"""Sustained load on the prod image: no socket errors, nothing but 2xx."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

from tests.conftest import ROOT
from tests.images.conftest import Running

Run = Callable[..., Running]
# bench/report.lua prints wrk's totals, error counts and non-2xx count as JSON.
WRK_SCRIPT = ROOT / "bench" / "report.lua"
SECONDS = int(os.environ.get("RELIABILITY_LOAD_SECONDS", "30"))
CONNECTIONS = 64


def wrk(url: str, seconds: int, connections: int) -> dict:
    if not shutil.which("wrk"):
        pytest.fail("wrk is missing: `make test-reliability` installs Debian's wrk")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    return {**json.loads(line.removeprefix("WRK_JSON ")), "output": out}


def test_sustained_load_has_no_errors(run: Run) -> None:
    app = run()
    assert app.wait_http()[0] == 200
    report = wrk(app.url(), SECONDS, CONNECTIONS)
    assert report["requests"] > SECONDS * 100, report["output"]
    assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}, report["output"]
    assert report["non2xx"] == 0, report["output"]
    assert app.status() == "running"
    logs = app.logs()
    assert "HARAKIRI" not in logs and "DAMN" not in logs, logs[-3000:]
