"""METRICS_PORT's Python parts: metrics.ini's histogram (uwsgi/metrics_worker.py)
and the exposition of a stats document (uwsgi/metrics_exporter.py)."""

from __future__ import annotations

import math
import re

import metrics_exporter
import metrics_worker

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
