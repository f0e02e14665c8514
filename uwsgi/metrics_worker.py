"""METRICS_PORT set: each worker counts its requests by status class and duration.

uWSGI counts requests per worker, but not by status or duration. The loader
wraps the app with ``instrument``, which counts a request when the app
starts its answer (``start_response``; the wrapper never wraps the
response, so a ``wsgi.file_wrapper`` answer is still sent by uWSGI's
sendfile): its status class, and the time from the app's call to its
status and headers, in a histogram bucket. An app that raises before it
answers is counted as a 5xx, as uWSGI answers it 500. The counts reach
uWSGI's shared metrics within a second (``Pending``). Counting after the
response is sent, in uWSGI's after-request hook, would cost every request a
second hold of the GIL: a tenth more CPU per request on make bench's small
view. metrics.ini declares the metrics, and the bounds; metrics_exporter.py
serves them.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

# The names metrics.ini declares; metrics_exporter.py reads them by these too.
REQUESTS = "flask_uwsgi.requests."  # then the status class: 2xx
BUCKET = "flask_uwsgi.duration.le."  # then the bucket's upper bound in seconds
SUM_MICROSECONDS = "flask_uwsgi.duration.sum_us"
STATUS_CLASSES = frozenset("12345")


def declared_metrics(ini: str) -> list[str]:
    """The metric names an ini file declares (``metric = name=...``): uWSGI
    keeps only the last of a repeated option in ``uwsgi.opt``."""
    names = []
    for line in ini.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "metric":
            for pair in value.split(","):
                field, _, name = pair.partition("=")
                if field.strip() == "name":
                    names.append(name.strip())
    return names


def buckets(names: Iterable[str]) -> list[tuple[float, str]]:
    """The histogram's (upper bound in seconds, metric name), smallest first."""
    return sorted((float(name[len(BUCKET) :]), name) for name in names if name.startswith(BUCKET))


def instrument(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app``, its requests counted when the app starts its answer."""
    import uwsgi  # uWSGI's embedded module: only in a worker

    with open(os.path.join(os.environ["FLASK_UWSGI_ETC"], "metrics.ini"), encoding="utf-8") as ini:
        histogram = buckets(declared_metrics(ini.read()))
    if not histogram or histogram[-1][0] != float("inf"):
        raise RuntimeError(f"metrics.ini declares no histogram ending in {BUCKET}inf")
    bounds = [bound for bound, _ in histogram]
    names = [name for _, name in histogram]
    requests = {status_class: f"{REQUESTS}{status_class}xx" for status_class in STATUS_CLASSES}
    counts = Pending(uwsgi.metric_inc)

    def count(status: str, started: float) -> None:
        seconds = time.perf_counter() - started
        counts.add(requests.get(status[:1], requests["5"]), names[bisect_left(bounds, seconds)], round(seconds * 1e6))

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        answered = False

        def counting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal answered
            if not answered:  # a second call, with exc_info, replaces a status not yet sent
                answered = True
                count(status, started)
            return start_response(status, headers, exc_info)

        try:
            return app(environ, counting)
        except BaseException:
            if not answered:  # uWSGI answers 500
                answered = True
                count("500", started)
            raise

    return application


class Pending:
    """A worker's counts not yet in uWSGI's shared metrics.

    Each ``uwsgi.metric_inc`` takes uWSGI's metrics lock and hands the GIL
    over twice, so a request only appends its counts to a deque (atomic
    under the GIL: no lock for 64 threads to pass around), and a thread of
    the worker's adds them up into uWSGI's every FLUSH_SECONDS, and when the
    worker exits normally: a scrape sees a request within that time; a
    worker killed by a signal loses what it had not added.
    """

    FLUSH_SECONDS = 1.0

    def __init__(self, metric_inc: Callable[[str, int], Any]) -> None:
        self.metric_inc = metric_inc
        self.queue: collections.deque[tuple[str, str, int]] = collections.deque()
        self.starting = threading.Lock()
        self.pid = 0  # the process whose flusher runs: the app may be loaded before the fork

    def add(self, requests: str, bucket: str, microseconds: int) -> None:
        if self.pid != os.getpid():
            self._start()
        self.queue.append((requests, bucket, microseconds))

    def flush(self) -> None:
        counts: dict[str, int] = {}
        while self.queue:
            requests, bucket, microseconds = self.queue.popleft()  # (only this thread takes from it)
            counts[requests] = counts.get(requests, 0) + 1
            counts[bucket] = counts.get(bucket, 0) + 1
            counts[SUM_MICROSECONDS] = counts.get(SUM_MICROSECONDS, 0) + microseconds
        for name, value in counts.items():
            self.metric_inc(name, value)

    def _start(self) -> None:
        with self.starting:
            if self.pid == os.getpid():
                return
            self.queue.clear()  # another process's counts (before the fork), then this one's
            self.pid = os.getpid()
        atexit.register(self.flush)
        threading.Thread(target=self._flush_forever, name="flask-uwsgi-metrics", daemon=True).start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()
