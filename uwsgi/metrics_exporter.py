"""METRICS_PORT set: uWSGI's numbers on http://<container>:METRICS_PORT/metrics.

uWSGI runs this as a daemon (metrics.ini): ``python3 metrics_exporter.py``.
Each scrape reads uWSGI's stats socket, JSON that the master writes from
what it keeps (the workers' status, requests, respawns and harakiri kills,
and the metrics the workers add: metrics_worker.py), and the kernel's listen
queues (metrics_listen.py), and answers in Prometheus' text exposition
format 0.0.4. Nothing is cached, parsed from logs or kept here; the app's
port never serves metrics.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import flask_uwsgi_env
import metrics_listen
import metrics_worker

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def read_stats(path: str) -> dict[str, Any]:
    """uWSGI's stats: it writes one JSON document on each connection, then closes it."""
    chunks = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(path)
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return json.loads(b"".join(chunks).decode("utf-8", "replace"))


def _family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"
    for labels_and_suffix, value in samples:
        yield f"{name}{labels_and_suffix} {_number(value)}"


def _number(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value) if isinstance(value, float) else str(value)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Kernel:
    """What the kernel counts for the listening sockets (metrics_listen.py)."""

    queues: dict[str, int] = field(default_factory=dict)
    overflows: int = 0


def read_kernel(environ: Mapping[str, str]) -> Kernel:
    queues = {}
    http = metrics_listen.tcp_accept_queue(int(flask_uwsgi_env.get(environ, "PORT")))
    if http is not None:
        queues["http"] = http
    workers = metrics_listen.unix_accept_queues().get(os.path.join(environ["FLASK_UWSGI_RUN"], "uwsgi.sock"))
    if workers is not None:
        queues["workers"] = workers[0]
    return Kernel(queues, metrics_listen.listen_overflows())


def render(stats: dict[str, Any], kernel: Kernel) -> str:
    """The exposition of one stats document and the kernel's counts."""
    workers = stats.get("workers", [])
    metrics = {name: int(entry.get("value", 0)) for name, entry in stats.get("metrics", {}).items()}
    threads = [core for worker in workers for core in worker.get("cores", [])]
    busy_threads = sum(1 for core in threads if core.get("in_request"))
    versions = (
        f'{{uwsgi_version="{_label(str(stats.get("version", "")))}",python_version="{platform.python_version()}"}}'
    )
    lines: list[str] = []
    lines += _family("flask_uwsgi_build_info", "gauge", "uWSGI's and Python's versions.", [(versions, 1)])
    lines += _family(
        "flask_uwsgi_workers_busy",
        "gauge",
        "Worker processes serving a request now.",
        [("", sum(1 for worker in workers if worker.get("status") == "busy"))],
    )
    lines += _family(
        "flask_uwsgi_workers_idle",
        "gauge",
        "Worker processes waiting for a request.",
        [("", sum(1 for worker in workers if worker.get("status") == "idle"))],
    )
    lines += _family("flask_uwsgi_threads_busy", "gauge", "Worker threads serving a request now.", [("", busy_threads)])
    lines += _family(
        "flask_uwsgi_threads_idle",
        "gauge",
        "Worker threads waiting for a request.",
        [("", len(threads) - busy_threads)],
    )
    lines += _family(
        "flask_uwsgi_listen_queue",
        "gauge",
        "Connections waiting to be accepted: on the HTTP port, and on the workers' socket behind the router.",
        [(f'{{socket="{name}"}}', length) for name, length in sorted(kernel.queues.items())],
    )
    lines += _family(
        "flask_uwsgi_listen_overflows_total",
        "counter",
        "Connections the kernel dropped because a TCP accept queue was full (the container's network namespace).",
        [("", kernel.overflows)],
    )
    lines += _family(
        "flask_uwsgi_requests_total",
        "counter",
        "Requests the app answered, by status class.",
        [
            (f'{{code="{name[len(metrics_worker.REQUESTS) :]}"}}', value)
            for name, value in sorted(metrics.items())
            if name.startswith(metrics_worker.REQUESTS)
        ],
    )
    lines += _family(
        "flask_uwsgi_request_duration_seconds",
        "histogram",
        "Time from the app's call to the response sent.",
        _histogram(metrics),
    )
    lines += _family(
        "flask_uwsgi_worker_respawns_total",
        "counter",
        "Workers started again after they ended (killed, crashed, recycled, reloaded).",
        [("", sum(max(int(worker.get("respawn_count", 1)) - 1, 0) for worker in workers))],
    )
    lines += _family(
        "flask_uwsgi_harakiri_kills_total",
        "counter",
        "Workers killed for a request over the harakiri limit.",
        [("", sum(int(worker.get("harakiri_count", 0)) for worker in workers))],
    )
    lines += _family(
        "flask_uwsgi_exceptions_total",
        "counter",
        "Exceptions the app raised to uWSGI.",
        [("", sum(int(worker.get("exceptions", 0)) for worker in workers))],
    )
    return "\n".join(lines) + "\n"


def _histogram(metrics: dict[str, int]) -> list[tuple[str, float]]:
    samples: list[tuple[str, float]] = []
    total = 0
    for bound, name in metrics_worker.buckets(metrics):
        total += metrics[name]
        samples.append((f'_bucket{{le="{_number(bound)}"}}', total))
    samples.append(("_sum", metrics.get(metrics_worker.SUM_MICROSECONDS, 0) / 1_000_000))
    samples.append(("_count", total))
    return samples


class Handler(BaseHTTPRequestHandler):
    stats_path = ""
    server_version = "flask-uwsgi-metrics"

    def do_GET(self) -> None:  # http.server calls it by this name
        if self.path.split("?", 1)[0] != "/metrics":
            self._answer(404, "not found: metrics are on /metrics\n")
            return
        try:
            body = render(read_stats(self.stats_path), read_kernel(os.environ))
        except (OSError, ValueError) as error:
            self._answer(503, f"uWSGI's stats are not readable: {error}\n")
            return
        self._answer(200, body, CONTENT_TYPE)

    def _answer(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        """Scrapes are not logged: one every few seconds would drown the app's lines."""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not socketserver's traceback (which LOG_FORMAT=json would
        cut into one object per line): mostly a scraper that hung up before
        its answer was written."""
        error = sys.exc_info()[1]
        print(f"flask-uwsgi: metrics: no answer to {client_address[0]}: {error!r}", file=sys.stderr, flush=True)


def main() -> None:
    if sys.argv[1:]:
        sys.exit("usage: metrics_exporter.py (run by uWSGI, metrics.ini)")
    port = int(flask_uwsgi_env.get(os.environ, "METRICS_PORT"))
    Handler.stats_path = os.path.join(os.environ["FLASK_UWSGI_RUN"], "stats.sock")
    server = Server(("0.0.0.0", port), Handler)  # its own port, for the scraper
    print(f"flask-uwsgi: metrics on port {port} (/metrics)", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
