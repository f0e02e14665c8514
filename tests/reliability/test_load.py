"""Load on the prod image: no socket errors, nothing but 2xx, no request lost at any concurrency."""

from __future__ import annotations

import os
import resource
from collections.abc import Callable

import pytest

from tests.reliability.conftest import client_in_namespace, in_namespace, wrk
from tests.support.containers import Running

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


# wrk holds a file descriptor per connection.
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)


@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
@pytest.mark.parametrize(
    ("clients", "connections"),
    [(64, "kept-alive"), (256, "kept-alive"), (1000, "kept-alive"), (1000, "new")],
)
def test_no_request_lost_at_any_concurrency(run: Run, mode: str, clients: int, connections: str) -> None:
    # Past uWSGI's default backlog of 100 the router dropped clients (256
    # kept-alive clients: about 40,000 read errors in 6 s). The load runs in
    # the container's network namespace (in_namespace says why).
    app = run(env={"HTTP_MODE": mode})
    assert app.wait_http()[0] == 200
    if connections == "kept-alive":
        report = wrk("http://127.0.0.1:8080/", 5, clients, prefix=in_namespace(app))
        assert report["requests"] > 1000, report["output"]
        assert report["errors"] == {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}, report["output"]
        assert report["non2xx"] == 0, report["output"]
    else:
        # wrk would count each close after a "Connection: close" request as a
        # read error when the answer does not repeat the header (the router's
        # does not; RFC 9112 9.6 says SHOULD): a client of our own reads to the close.
        report = client_in_namespace(app, "new_connections.py", "127.0.0.1", "8080", str(clients), "10", timeout=300)
        assert report["statuses"] == {"200": clients * 10}, report
    logs = app.logs()
    assert f"listen backlog {app.exec('cat', '/proc/sys/net/core/somaxconn')[1].strip()}" in logs
    assert "listen queue" not in logs, logs[-3000:]  # uWSGI's "*** uWSGI listen queue of socket ... full ***"
