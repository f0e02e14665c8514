"""examples/notes' observability stack (compose.observability.yaml over
compose.yaml), for real: the notes image's metrics scraped by Prometheus, its
whole output as JSON lines, and its traces sent over OTLP/HTTP.

Jaeger's and Prometheus' images cannot be pulled here, so
compose.observability.test.yaml puts stand-ins in their place: an OTLP/HTTP
receiver (tests/images/apps/traced/otlp_receiver.py) in an image built from
the traced test app, and Debian's Prometheus server in the prod image, with
the example's own prometheus.yml. web and its settings are the example's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from tests.conftest import COMPOSE
from tests.examples.conftest import EXAMPLES, HERE, Stack
from tests.examples.test_compose import pids
from tests.support.containers import APPS, PROD_IMAGE, http_get, wait_for
from tests.support.spans import parse_spans

StartStack = Callable[..., Stack]
Build = Callable[..., str]
NOTES = EXAMPLES / "notes"
FILES = ["compose.yaml", "compose.observability.yaml"]
STAND_INS = HERE / "compose.observability.test.yaml"
PROMETHEUS = Path("/usr/bin/prometheus")
# Every published port on a free port of 127.0.0.1.
FREE_PORTS = {"HTTP_PORT": "", "METRICS_HOST_PORT": "", "JAEGER_UI_PORT": "", "PROMETHEUS_PORT": ""}
ROUTES = {"/", "/api/notes"}
# A request target with a quote and a backslash: 404, which the image logs.
HOSTILE_PATH = b'/api/notes/"quoted\\'


def services(*files: str) -> dict[str, Any]:
    """The services of the example's files, merged as Compose merges them (no engine needed),
    with the ports' variables unset: their defaults."""
    command = [COMPOSE, *(f for name in files for f in ("-f", name)), "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k not in {*FREE_PORTS, "DEBUG_PORTS", "DEBUGPY_PORTS"}}
    result = subprocess.run(command, cwd=NOTES, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["services"]


def test_the_observability_file_sets_the_three_signals_and_publishes_on_loopback_only() -> None:
    config = services(*FILES)
    assert set(config) == {"web", "jaeger", "prometheus"}
    web = config["web"]
    assert web["image"] == "notes:latest"  # over the production-like stack
    environment = web["environment"]
    assert (environment["METRICS_PORT"], environment["LOG_FORMAT"]) == ("9100", "json")
    assert environment["OTEL_SERVICE_NAME"] == "notes"
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert environment["OTEL_METRICS_EXPORTER"] == environment["OTEL_LOGS_EXPORTER"] == "none"
    assert "DEBUGPY_ENABLE" not in environment
    published = {name: {(p["target"], p["published"]) for p in service["ports"]} for name, service in config.items()}
    assert published == {
        "web": {(8080, "8080"), (9100, "9100")},
        "jaeger": {(16686, "16686")},
        "prometheus": {(9090, "9090")},
    }
    for service in config.values():
        assert all(port["host_ip"] == "127.0.0.1" for port in service["ports"]), service["ports"]
    # Pinned releases, not whatever `latest` is on the day.
    assert re.fullmatch(r"jaegertracing/jaeger:2\.\d+\.\d+", config["jaeger"]["image"])
    assert re.fullmatch(r"prom/prometheus:v3\.\d+\.\d+", config["prometheus"]["image"])
    (scrape_config,) = [v for v in config["prometheus"]["volumes"] if v["target"] == "/etc/prometheus/prometheus.yml"]
    assert Path(scrape_config["source"]) == NOTES / "prometheus.yml"
    assert '"web:9100"' in (NOTES / "prometheus.yml").read_text()


def received_spans(stack: Stack) -> list[dict[str, Any]]:
    """Every span the receiver has logged."""
    return parse_spans(stack.container("jaeger").logs(stdout=True, stderr=False).decode())


def log_entries(container: Container) -> list[dict[str, Any]]:
    """The container's whole output, stdout and stderr, each line parsed."""
    entries = []
    for line in container.logs(stdout=True, stderr=True).decode("utf-8").splitlines():
        entry = json.loads(line)  # fails the test on the first line that is not JSON
        assert isinstance(entry, dict) and {"time", "level", "source", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


def query(port: int, expression: str) -> float | None:
    """The one value of a PromQL query, or None while there is none (or no server yet)."""
    try:
        status, body = http_get(f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expression)}")
    except OSError:
        return None
    result = json.loads(body)["data"]["result"] if status == 200 else []
    return float(result[0]["value"][1]) if result else None


def test_metrics_json_logs_and_traces_reach_their_services(build: Build, stack: StartStack) -> None:
    assert PROMETHEUS.exists(), "Debian's prometheus package is missing: make prometheus installs it"
    # Built before the stack starts, so removed after the stack is.
    receiver = build(APPS / "traced", "flask-uwsgi-test-otlp-receiver:notes", BASE_IMAGE=PROD_IMAGE)
    app = stack("notes", [*FILES, str(STAND_INS)], OTLP_RECEIVER_IMAGE=receiver, **FREE_PORTS)
    assert app.wait_http("/healthz")[0] == 200

    # Requests to both of notes' views, and one no client library would send.
    note = urllib.request.Request(
        app.url("/api/notes"), data=b'{"text": "traced"}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(note, timeout=10) as response:
        assert response.status == 201
    for path in ("/api/notes", "/"):
        assert http_get(app.url(path))[0] == 200
    answer = app.running.raw(b"GET " + HOSTILE_PATH + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]

    # Traces: the receiver got spans of notes' routes, from web's workers.
    workers = pids(app, "uWSGI worker")

    def spans_of_both_routes() -> list[dict[str, Any]] | None:
        spans = [s for s in received_spans(app) if s["attrs"].get("http.route") in ROUTES]
        return spans if {s["attrs"]["http.route"] for s in spans} == ROUTES else None

    spans = wait_for(spans_of_both_routes, 60, "spans of / and /api/notes at the receiver", interval=0.5)
    for span in spans:
        assert span["resource"]["service.name"] == "notes", span
        assert span["kind"] == "SPAN_KIND_SERVER", span
        assert int(span["attrs"]["process.pid"]) in workers, (span, workers)  # OTLP's JSON: int64 as a string
    assert {"POST /api/notes", "GET /api/notes", "GET /"} <= {s["name"] for s in spans}

    # Metrics: Prometheus, through its HTTP API on its published port, scrapes
    # web (the example's prometheus.yml) and has its requests.
    prometheus = app.port(9090, "prometheus")
    wait_for(lambda: query(prometheus, 'up{job="notes"}') == 1, 60, "Prometheus' scrape of web", interval=0.5)
    counted = wait_for(
        lambda: query(prometheus, 'sum(flask_uwsgi_requests_total{job="notes",instance="web:9100"})'),
        60,
        "web's requests in Prometheus",
        interval=0.5,
    )
    assert counted > 0
    assert http_get(f"http://127.0.0.1:{app.port(9100)}/metrics")[0] == 200  # published, on 127.0.0.1
    app.port(16686, "jaeger")  # Jaeger's UI port too (the stand-in serves none)

    # Logs: web's whole output so far, from the entrypoint's first line on,
    # one JSON object per line, the hostile request's line among them.
    web = app.container()
    hostile = HOSTILE_PATH.decode()

    def hostile_logged() -> list[dict[str, Any]]:
        return [e for e in log_entries(web) if e["source"] == "request" and e.get("path") == hostile]

    (logged,) = wait_for(hostile_logged, 30, "the hostile request logged", interval=0.5)
    assert (logged["method"], logged["status"]) == ("GET", 404)
    entries = log_entries(web)
    assert entries[0]["source"] == "entrypoint", entries[0]
    assert {"entrypoint", "uwsgi", "request"} <= {e["source"] for e in entries}
    assert any(e["message"] == "notes: database ready at /data/notes.sqlite3" for e in entries)

    # Stopped as Compose stops it (10 s, then killed): in time, and its
    # last lines, uWSGI's goodbye included, are JSON too.
    web.stop(timeout=10)
    web.reload()
    assert web.attrs["State"]["ExitCode"] == 0, web.logs()[-2000:]
    assert log_entries(web)[-1]["source"] == "uwsgi"


@pytest.mark.parametrize("files", [["compose.yaml"], []], ids=["production-like", "development"])
def test_the_default_stacks_set_no_observability_variable(files: list[str]) -> None:
    environment = services(*files)["web"].get("environment") or {}
    assert not {name for name in environment if name.startswith("OTEL_") or name in {"METRICS_PORT", "LOG_FORMAT"}}
