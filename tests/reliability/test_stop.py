"""`docker stop` while requests are in flight: every request that uWSGI holds completes."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable

import pytest

from tests.support.containers import APPS, Running, connections_to, http_get, wait_for

Run = Callable[..., Running]
IN_FLIGHT = 20


def stop_during_requests(app: Running, inside: int) -> tuple[list[tuple[int, str] | str], float]:
    """Send IN_FLIGHT slow requests, wait until `inside` run in the app and all are
    connected, then `docker stop`. Returns each request's outcome and the stop's seconds."""
    results: list[tuple[int, str] | str] = []
    lock = threading.Lock()

    def request() -> None:
        try:
            outcome: tuple[int, str] | str = http_get(app.url("/slow?seconds=2"), timeout=30)
        except OSError as error:
            outcome = repr(error)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=request, daemon=True) for _ in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    wait_for(lambda: app.logs().count("slow request started") >= inside, 15, f"{inside} requests inside the app")
    wait_for(lambda: connections_to(app) >= IN_FLIGHT, 15, f"{IN_FLIGHT} connections")
    started = time.monotonic()
    app.container.stop(timeout=10)
    seconds = time.monotonic() - started
    for thread in threads:
        thread.join(30)
    return results, seconds


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_stop_completes_every_in_flight_request(run: Run, variant: str) -> None:
    # With 10 threads in each of the (at least 2) processes, all 20 requests
    # are inside the app when the stop comes.
    app = run(variant, app=APPS / "slow", env={"UWSGI_THREADS": "10"})
    app.wait_http()
    results, seconds = stop_during_requests(app, inside=IN_FLIGHT)
    assert [r if isinstance(r, str) else r[0] for r in results] == [200] * IN_FLIGHT
    assert app.exit_code() == 0
    assert seconds < 10, f"docker stop took {seconds:.1f} s"
    assert "graceful shutdown triggered" in app.logs()


def outcomes(results: list[tuple[int, str] | str]) -> list[int | str]:
    return [r if isinstance(r, str) else r[0] for r in results]


def test_without_a_drain_the_stop_closes_requests_still_queued(run: Run) -> None:
    """What a stop with STOP_DRAIN_SECONDS=0 (the default for plain Docker) does.

    uWSGI 2.0's graceful stop finishes the requests its threads hold; the
    requests still queued for a thread (in the router, or in the socket's
    backlog with HTTP_MODE=direct) are closed unanswered. Whatever sends
    traffic must stop before the stop signal: STOP_DRAIN_SECONDS does that
    for load balancers that check the health path.
    """
    app = run(app=APPS / "slow", env={"UWSGI_PROCESSES": "2", "UWSGI_THREADS": "4"})  # 8 inside, 12 queued
    app.wait_http()
    results, _seconds = stop_during_requests(app, inside=8)
    answered = outcomes(results).count(200)
    print(f"no drain: {answered} of {IN_FLIGHT} answered, {IN_FLIGHT - answered} closed unanswered")
    assert 8 <= answered < IN_FLIGHT
    assert app.exit_code() == 0


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_with_a_drain_the_stop_answers_every_queued_request(run: Run, variant: str) -> None:
    env = {"UWSGI_PROCESSES": "2", "UWSGI_THREADS": "4", "STOP_DRAIN_SECONDS": "5"}
    app = run(variant, app=APPS / "slow", env=env)  # 8 inside, 12 queued: 3 rounds of 2 s
    app.wait_http()
    results, seconds = stop_during_requests(app, inside=8)
    assert outcomes(results) == [200] * IN_FLIGHT
    assert app.exit_code() == 0
    assert 5 <= seconds < 10, f"docker stop took {seconds:.1f} s"
    assert "SIGTERM: draining for 5 s" in app.logs()


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_drain_fails_the_health_path_at_once_and_serves_on(run: Run, variant: str) -> None:
    app = run(variant, env={"STOP_DRAIN_SECONDS": "3", "HEALTHCHECK_PATH": "/healthz"}, app=APPS / "health")
    assert app.wait_http("/healthz")[0] == 200
    assert app.exec("flask-uwsgi-healthcheck")[0] == 0
    stopper = threading.Thread(target=app.container.stop, kwargs={"timeout": 10}, daemon=True)
    began = time.monotonic()
    stopper.start()
    wait_for(lambda: http_get(app.url("/healthz"))[0] == 503, 2, "the health path's 503")
    assert time.monotonic() - began < 1
    assert app.exec("flask-uwsgi-healthcheck") == (1, "unhealthy: draining: the server is stopping\n")
    # Everything else is served on, and says the connection will close.
    with urllib.request.urlopen(app.url("/"), timeout=5) as response:
        assert response.status == 200 and response.headers["Connection"] == "close"
    stopper.join(15)
    seconds = time.monotonic() - began
    assert app.exit_code() == 0
    assert 3 <= seconds < 6, f"stop took {seconds:.1f} s"
