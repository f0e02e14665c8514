"""OpenTelemetry traces (uwsgi/otel_traces.py): an app image with OpenTelemetry's
zero-code packages and OTEL_* set sends spans from every worker.

The receiver decodes OTLP/HTTP with opentelemetry-proto (apps/traced/otlp_receiver.py),
inside the app's container, where the app's image has that package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.containers import APPS, Running, http_get, wait_for
from tests.support.spans import parse_spans

Run = Callable[..., Running]
Build = Callable[..., str]
TRACED = APPS / "traced"
RECEIVER_PORT = "4318"
SPANS = "/tmp/spans.jsonl"  # the receiver's output, in the container
OTEL = {
    "OTEL_SERVICE_NAME": "traced",
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{RECEIVER_PORT}",
    "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: export within a moment
}
WORKERS = {"UWSGI_PROCESSES": "2", "UWSGI_THREADS": "1"}


def traced_app(build: Build, run: Run, images: dict[str, str], variant: str, **env: str) -> Running:
    tag = build(TRACED, f"flask-uwsgi-test-traced:{variant}", BASE_IMAGE=images[variant])
    return run(image=tag, app=None, env={**OTEL, **WORKERS, **env})


def spans(app: Running) -> list[dict[str, Any]]:
    """Every span received so far."""
    code, output = app.exec("sh", "-c", f"cat {SPANS} 2>/dev/null || true")
    assert code == 0, output
    return parse_spans(output)


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_spans_leave_every_worker_with_route_status_and_pid(
    build: Build, run: Run, images: dict[str, str], variant: str
) -> None:
    app = traced_app(build, run, images, variant)
    app.container.exec_run(["sh", "-c", f"exec python /app/otlp_receiver.py {RECEIVER_PORT} >> {SPANS}"], detach=True)
    assert app.wait_http("/items/0")[0] == 200
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: http_get(app.url(f"/items/{n}"))[0], range(1, 41)))
    assert answers == [200] * 40

    def from_both_workers() -> list[dict[str, Any]] | None:
        received = [s for s in spans(app) if s["attrs"].get("http.route") == "/items/<int:number>"]
        return received if len({s["attrs"]["process.pid"] for s in received}) >= 2 else None

    received = wait_for(from_both_workers, 30, "spans from both workers")
    for span in received:
        assert span["name"] == "GET /items/<int:number>", span
        assert span["kind"] == "SPAN_KIND_SERVER", span
        assert span["resource"]["service.name"] == "traced", span
        status = span["attrs"].get("http.response.status_code", span["attrs"].get("http.status_code"))
        assert int(status) == 200, span


def test_without_the_packages_nothing_is_done(run: Run) -> None:
    app = run("prod", env={**OTEL, **WORKERS})
    assert app.wait_http()[0] == 200
    app.wait_log(r"^flask-uwsgi: OTEL_\* is set, but opentelemetry-distro is not installed: no traces$")


def test_a_setting_opentelemetry_cannot_apply_stops_the_container(
    build: Build, run: Run, images: dict[str, str]
) -> None:
    app = traced_app(build, run, images, "prod", OTEL_TRACES_EXPORTER="nonexistent")
    assert app.wait_exit(60) != 0
    last = app.logs().strip().splitlines()[-1]
    assert last.startswith("flask-uwsgi: error: OTEL_*: OpenTelemetry cannot start: "), last
    assert "nonexistent" in last, last


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_workers_that_made_no_span_stop_at_once(build: Build, run: Run, images: dict[str, str], variant: str) -> None:
    """uWSGI forks its workers without Python's after-fork hooks, where
    OpenTelemetry's batch processor starts a worker's own export thread: a
    worker that never made a span then waited 30 s at exit for the master's
    thread, which it does not have (docker-entrypoint.sh, fu_uwsgi_command)."""
    app = traced_app(build, run, images, variant, UWSGI_PROCESSES="4")
    assert app.wait_http("/items/0")[0] == 200  # one span, from one of 4 workers
    began = time.monotonic()
    app.container.stop(timeout=60)
    seconds = time.monotonic() - began
    app.container.reload()
    assert app.container.attrs["State"]["ExitCode"] == 0, app.logs()[-2000:]
    assert seconds < 15, f"docker stop took {seconds:.1f} s"  # (about 1 s; 30 s with the master's thread)
