"""METRICS_PORT: uWSGI's numbers on /metrics, read by promtool and a real Prometheus server."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.containers import APPS, Running, http_get, listening_ports, wait_for

Run = Callable[..., Running]
SLOW = APPS / "slow"
# Docker's HEALTHCHECK would add requests of its own to the counts.
NO_HEALTHCHECK = {"healthcheck": {"test": ["NONE"]}}
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", re.MULTILINE)


def start(run: Run, variant: str = "prod", **env: str) -> Running:
    app = run(variant, app=SLOW, env={"METRICS_PORT": "9100", **env}, ports=(8080, 9100), **NO_HEALTHCHECK)
    assert app.wait_http()[0] == 200
    wait_for(lambda: scrape_text(app) is not None, 30, "the metrics endpoint")
    # wait_http's request, once its worker has added it: nothing pending from here.
    wait_for(lambda: scrape(app)["flask_uwsgi_request_duration_seconds_count"] == 1, 10, "the first request counted")
    return app


def scrape_text(app: Running) -> str | None:
    try:
        status, body = http_get(f"http://127.0.0.1:{app.ports[9100]}/metrics")
    except OSError:
        return None
    return body if status == 200 else None


def scrape(app: Running) -> dict[str, float]:
    """Every sample, keyed by name and labels as written (``name{labels}``)."""
    text = scrape_text(app)
    assert text is not None
    return {name + (labels or ""): float(value) for name, labels, value in SAMPLE.findall(text)}


def test_counts_requests_by_status_class_and_duration(run: Run) -> None:
    app = start(run)
    before = scrape(app)
    for _ in range(20):
        assert http_get(app.url())[0] == 200
    assert http_get(app.url("/missing"))[0] == 404
    assert http_get(app.url("/slow?seconds=x"))[0] == 500  # float("x") raises
    assert http_get(app.url("/slow?seconds=0.3"))[0] == 200
    # Each worker adds its counts to uWSGI's within a second.
    count = "flask_uwsgi_request_duration_seconds_count"
    after = wait_for(lambda: (now := scrape(app))[count] - before[count] >= 23 and now, 10, "the 23 requests counted")

    def moved(sample: str) -> float:
        return after[sample] - before.get(sample, 0)

    assert moved('flask_uwsgi_requests_total{code="2xx"}') == 21
    assert moved('flask_uwsgi_requests_total{code="4xx"}') == 1
    assert moved('flask_uwsgi_requests_total{code="5xx"}') == 1
    assert moved("flask_uwsgi_exceptions_total") == 0  # Flask answered its exception; none reached uWSGI
    assert moved("flask_uwsgi_request_duration_seconds_count") == 23
    # The 0.3 s request is in the 0.5 s bucket, not in the 0.25 s one.
    assert (
        moved('flask_uwsgi_request_duration_seconds_bucket{le="0.5"}')
        - moved('flask_uwsgi_request_duration_seconds_bucket{le="0.25"}')
        == 1
    )
    assert 0.3 <= moved("flask_uwsgi_request_duration_seconds_sum") < 5
    assert (
        after['flask_uwsgi_request_duration_seconds_bucket{le="+Inf"}']
        == after["flask_uwsgi_request_duration_seconds_count"]
    )
    build_info = r'^flask_uwsgi_build_info\{uwsgi_version="2\.0\.31",python_version="3\.\d+\.\d+"\} 1$'
    assert re.search(build_info, scrape_text(app) or "", re.MULTILINE)


def test_busy_workers_and_threads_while_a_request_is_in_flight(run: Run) -> None:
    app = start(run)
    idle = scrape(app)
    assert idle["flask_uwsgi_workers_busy"] == 0 and idle["flask_uwsgi_threads_busy"] == 0
    results: list = []
    thread = threading.Thread(target=lambda: results.append(http_get(app.url("/slow?seconds=4"))), daemon=True)
    thread.start()
    busy = wait_for(
        lambda: (sample := scrape(app))["flask_uwsgi_threads_busy"] == 1 and sample,
        3.5,
        "one busy thread while /slow runs",
    )
    assert busy["flask_uwsgi_workers_busy"] == 1
    assert busy["flask_uwsgi_threads_idle"] == idle["flask_uwsgi_threads_idle"] - 1
    thread.join(30)
    assert results and results[0][0] == 200
    # The worker ends its request after the client has the whole answer.
    wait_for(lambda: scrape(app)["flask_uwsgi_threads_busy"] == 0, 5, "no busy thread after /slow")


@pytest.mark.parametrize(("mode", "queue"), [("router", "workers"), ("direct", "http")])
def test_the_listen_queue_and_its_overflows(run: Run, mode: str, queue: str) -> None:
    """One worker thread, busy: the requests behind it wait in the queue uWSGI
    accepts them from, the workers' unix socket behind the router, or the
    HTTP port itself in direct mode. There, a backlog of 4 overflows."""
    env = {"HTTP_MODE": mode, "UWSGI_PROCESSES": "1", "UWSGI_THREADS": "1", "UWSGI_LISTEN": "4"}
    app = start(run, **env)
    assert scrape(app)[f'flask_uwsgi_listen_queue{{socket="{queue}"}}'] == 0
    overflows = scrape(app)["flask_uwsgi_listen_overflows_total"]
    waiting = []
    for _ in range(12):
        sock = socket.create_connection(("127.0.0.1", app.http_port), timeout=10)
        sock.sendall(b"GET /slow?seconds=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        waiting.append(sock)
    try:
        wait_for(lambda: scrape(app)[f'flask_uwsgi_listen_queue{{socket="{queue}"}}'] >= 3, 10, f"a queue on {queue}")
        if mode == "direct":
            wait_for(lambda: scrape(app)["flask_uwsgi_listen_overflows_total"] > overflows, 10, "an overflow")
    finally:
        for sock in waiting:
            sock.close()


def test_counts_a_respawned_worker(run: Run) -> None:
    app = start(run)
    assert scrape(app)["flask_uwsgi_worker_respawns_total"] == 0
    pid = json.loads(http_get(app.url())[1])["pid"]
    assert app.exec("python3", "-c", f"import os, signal; os.kill({pid}, signal.SIGKILL)")[0] == 0
    wait_for(lambda: scrape(app)["flask_uwsgi_worker_respawns_total"] == 1, 30, "the respawn counted")


def test_off_by_default_and_never_on_the_app_port(run: Run) -> None:
    app = run(app=SLOW)
    assert app.wait_http()[0] == 200
    assert 9100 not in listening_ports(app)
    assert app.exec("test", "-e", "/tmp/flask-uwsgi/stats.sock")[0] != 0
    metrics = start(run)
    assert http_get(metrics.url("/metrics"))[0] == 404  # the app's own 404
    assert http_get(f"http://127.0.0.1:{metrics.ports[9100]}/")[0] == 404


def test_dev_image_serves_metrics_with_the_debugger_on(run: Run) -> None:
    app = start(run, "dev", DEBUGPY_ENABLE="1")
    assert http_get(app.url())[0] == 200
    wait_for(lambda: scrape(app)['flask_uwsgi_requests_total{code="2xx"}'] >= 2, 10, "2 requests counted")


@pytest.fixture(scope="module")
def prometheus_tools() -> tuple[str, str]:
    tools = shutil.which("prometheus"), shutil.which("promtool")
    assert all(tools), "Debian's prometheus package is missing: make prometheus installs it"
    return tools  # type: ignore[return-value]


def test_promtool_finds_nothing_to_fix(run: Run, prometheus_tools: tuple[str, str]) -> None:
    app = start(run)
    http_get(app.url())
    check = subprocess.run(
        [prometheus_tools[1], "check", "metrics"], input=scrape_text(app), capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prometheus(prometheus_tools: tuple[str, str], tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """A Prometheus server on 127.0.0.1 scraping one target every second; returns its URL."""
    processes: list[subprocess.Popen] = []

    def serve(target_port: int) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            f"scrape_configs: [{{job_name: app, static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]}}]\n"
        )
        port = free_port()
        log = (tmp_path / "prometheus.log").open("w")
        processes.append(
            subprocess.Popen(
                [
                    prometheus_tools[0],
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=log,
            )
        )
        return f"http://127.0.0.1:{port}"

    yield serve
    for process in processes:
        process.terminate()
        process.wait(30)


def query(server: str, expression: str) -> float | None:
    try:
        status, body = http_get(f"{server}/api/v1/query?query={urllib.parse.quote(expression)}")
    except OSError:
        return None
    result = json.loads(body)["data"]["result"] if status == 200 else []
    return float(result[0]["value"][1]) if result else None


def test_a_prometheus_server_scrapes_it(run: Run, prometheus: Callable[[int], str]) -> None:
    app = start(run)
    server = prometheus(app.ports[9100])
    wait_for(lambda: query(server, 'up{job="app"}') == 1, 60, "Prometheus' first scrape")
    now = scrape(app)
    answered = now['flask_uwsgi_requests_total{code="2xx"}']
    for _ in range(7):
        http_get(app.url())
    wait_for(
        lambda: query(server, 'flask_uwsgi_requests_total{code="2xx"}') == answered + 7, 30, "7 more requests seen"
    )
    workers = now["flask_uwsgi_workers_idle"] + now["flask_uwsgi_workers_busy"]
    assert query(server, "flask_uwsgi_workers_idle + flask_uwsgi_workers_busy") == workers > 0
    assert query(server, "histogram_quantile(0.5, flask_uwsgi_request_duration_seconds_bucket)") is not None
