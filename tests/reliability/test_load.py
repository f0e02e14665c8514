"""Sustained load on the prod image: no socket errors, nothing but 2xx."""

from __future__ import annotations

import os
from collections.abc import Callable

from tests.images.conftest import Running
from tests.reliability.conftest import wrk

Run = Callable[..., Running]
SECONDS = int(os.environ.get("RELIABILITY_LOAD_SECONDS", "30"))
CONNECTIONS = 64


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
