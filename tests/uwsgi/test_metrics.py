"""METRICS_PORT's Python parts: metrics.ini's histogram (uwsgi/metrics_worker.py)
and the exposition of a stats document (uwsgi/metrics_exporter.py)."""

from __future__ import annotations

import math
import re
import sys
import time
import types
from collections.abc import Callable

import metrics_exporter
import metrics_worker
import pytest

from tests.conftest import ROOT

INI = (ROOT / "uwsgi" / "metrics.ini").read_text()


def test_metrics_ini_declares_valid_names_and_a_histogram_ending_in_inf() -> None:
    names = metrics_worker.declared_metrics(INI)
    # uWSGI's own rule (core/metrics.c, uwsgi_validate_metric_name).
    assert all(re.fullmatch(r"[0-9A-Za-z._-]+", name) for name in names)
    bounds = [bound for bound, _ in metrics_worker.buckets(names)]
    assert bounds[0] == 0.005 and bounds[-1] == math.inf and bounds == sorted(set(bounds))
    assert {f"{metrics_worker.REQUESTS}{c}xx" for c in "12345"} | {metrics_worker.SUM_MICROSECONDS} <= set(names)


def stats(**metrics: int) -> dict:
    worker = {"status": "busy", "respawn_count": 3, "harakiri_count": 1, "exceptions": 2}
    cores = [{"in_request": 1}, {"in_request": 0}]
    return {
        "version": "2.0.31",
        "workers": [{**worker, "cores": cores}, {"status": "idle", "respawn_count": 1, "cores": cores}],
        "metrics": {name.replace("__", "."): {"type": 0, "value": value} for name, value in metrics.items()},
    }


def samples(text: str) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


def test_the_exposition_of_a_stats_document() -> None:
    names = {
        "flask_uwsgi__requests__2xx": 9,
        "flask_uwsgi__requests__5xx": 1,
        "flask_uwsgi__duration__le__0.005": 6,
        "flask_uwsgi__duration__le__1": 3,
        "flask_uwsgi__duration__le__inf": 1,
        "flask_uwsgi__duration__sum_us": 2_500_000,
    }
    kernel = metrics_exporter.Kernel({"http": 3, "workers": 0}, overflows=4)
    got = samples(metrics_exporter.render(stats(**names), kernel))
    assert got["flask_uwsgi_workers_busy"] == "1" and got["flask_uwsgi_workers_idle"] == "1"
    assert got["flask_uwsgi_threads_busy"] == "2" and got["flask_uwsgi_threads_idle"] == "2"
    assert got['flask_uwsgi_listen_queue{socket="http"}'] == "3"
    assert got['flask_uwsgi_listen_queue{socket="workers"}'] == "0"
    assert got["flask_uwsgi_listen_overflows_total"] == "4"
    assert got['flask_uwsgi_requests_total{code="2xx"}'] == "9"
    # Cumulative buckets, as Prometheus wants them.
    assert got['flask_uwsgi_request_duration_seconds_bucket{le="0.005"}'] == "6"
    assert got['flask_uwsgi_request_duration_seconds_bucket{le="1.0"}'] == "9"
    assert got['flask_uwsgi_request_duration_seconds_bucket{le="+Inf"}'] == "10"
    assert got["flask_uwsgi_request_duration_seconds_count"] == "10"
    assert got["flask_uwsgi_request_duration_seconds_sum"] == "2.5"
    # respawn_count counts the first start too.
    assert got["flask_uwsgi_worker_respawns_total"] == "2"
    assert got["flask_uwsgi_harakiri_kills_total"] == "1" and got["flask_uwsgi_exceptions_total"] == "2"


def test_label_values_are_escaped() -> None:
    text = metrics_exporter.render({"version": 'a"b\\c\nd', "workers": []}, metrics_exporter.Kernel())
    assert 'uwsgi_version="a\\"b\\\\c\\nd"' in text


def test_a_workers_counts_reach_uwsgi_added_up() -> None:
    added: list[tuple[str, int]] = []
    pending = metrics_worker.Pending(lambda name, value: added.append((name, value)))
    pending.FLUSH_SECONDS = 3600  # the test flushes by hand
    for microseconds in (100, 250):
        pending.add("flask_uwsgi.requests.2xx", "flask_uwsgi.duration.le.0.005", microseconds)
    pending.add("flask_uwsgi.requests.4xx", "flask_uwsgi.duration.le.inf", 20_000_000)
    pending.flush()
    assert sorted(added) == [
        ("flask_uwsgi.duration.le.0.005", 2),
        ("flask_uwsgi.duration.le.inf", 1),
        ("flask_uwsgi.duration.sum_us", 20_000_350),
        ("flask_uwsgi.requests.2xx", 2),
        ("flask_uwsgi.requests.4xx", 1),
    ]
    pending.flush()  # nothing new: nothing added
    assert len(added) == 5


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """What instrument() adds to uWSGI's metrics, with uWSGI's module stood in for."""
    added: list[tuple[str, int]] = []
    monkeypatch.setitem(sys.modules, "uwsgi", types.SimpleNamespace(metric_inc=lambda n, v: added.append((n, v))))
    monkeypatch.setenv("FLASK_UWSGI_ETC", str(ROOT / "uwsgi"))
    return added


def totals(added: list[tuple[str, int]], count: int) -> dict[str, int]:
    """The counts once the worker's flusher has added ``count`` requests (within 1 s)."""

    def summed() -> dict[str, int]:
        out: dict[str, int] = {}
        for name, value in list(added):
            out[name] = out.get(name, 0) + value
        return out

    deadline = time.monotonic() + 10
    while sum(v for n, v in summed().items() if n.startswith(metrics_worker.REQUESTS)) < count:
        assert time.monotonic() < deadline, f"{count} requests not counted: {summed()}"
        time.sleep(0.05)
    return summed()


def test_each_request_is_counted_once_by_its_first_status(counted: list[tuple[str, int]]) -> None:
    def app(environ: dict, start_response: Callable) -> list[bytes]:
        if environ["PATH_INFO"] == "/raise":
            raise RuntimeError("before any answer")
        start_response(environ["PATH_INFO"][1:], [])
        if environ["PATH_INFO"] == "/404 Not Found":
            try:
                raise ValueError("after the status")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
        return [b""]

    wrapped = metrics_worker.instrument(app)
    for path in ("/200 OK", "/200 OK", "/404 Not Found", "/raise"):
        try:
            wrapped({"PATH_INFO": path}, lambda *args: None)
        except RuntimeError:
            assert path == "/raise"
    got = totals(counted, 4)
    assert got[f"{metrics_worker.REQUESTS}2xx"] == 2
    assert got[f"{metrics_worker.REQUESTS}4xx"] == 1  # not again as a 5xx
    assert got[f"{metrics_worker.REQUESTS}5xx"] == 1  # uWSGI answers an app that raised 500
    assert sum(value for name, value in got.items() if name.startswith(metrics_worker.BUCKET)) == 4


def test_a_failed_answer_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    server = metrics_exporter.Server(("127.0.0.1", 0), metrics_exporter.Handler)
    try:
        try:
            raise BrokenPipeError(32, "Broken pipe")
        except BrokenPipeError:
            server.handle_error(None, ("10.0.0.9", 41234))
    finally:
        server.server_close()
    err = capsys.readouterr().err
    assert err == "flask-uwsgi: metrics: no answer to 10.0.0.9: BrokenPipeError(32, 'Broken pipe')\n"
