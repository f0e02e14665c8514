"""Every use of debugpy that is not its public API about its adapter, and the
debugpy version all of them were written for.

debugpy's public API (listen, connect, configure, is_client_connected,
debug_this_thread, trigger_exception_handler) cannot tell a worker which
adapter to join, nor how many sessions a debugger has configured, and its
adapter has two races that a quick re-attach meets. For those, this module
reads pydevd, which debugpy bundles, in the process that called
debugpy.listen() (adapter_endpoint, count_sessions), and patches the adapter
in its own process (debugpy_adapter.py). Joining and leaving a session, in a
worker, is debugpy_internals_worker.py. Both were written for, and tested on,
debugpy WRITTEN_FOR (requirements/dev.txt pins it; uwsgi_debugpy checks it at
start-up, and the image is checked).
"""

from __future__ import annotations

from typing import Any

WRITTEN_FOR = "1.8.22"


def version_mismatch() -> str | None:
    """One line saying how the installed debugpy differs from WRITTEN_FOR, or None."""
    import debugpy

    if debugpy.__version__ == WRITTEN_FOR:
        return None
    return (
        f"debugpy: flask-uwsgi's debugger support was written for debugpy {WRITTEN_FOR}, "
        f"this is {debugpy.__version__}: attaching may not work"
    )


def adapter_endpoint() -> dict[str, Any]:
    """Where debugpy.listen() connected this process: its adapter's endpoint
    for debuggees, and the tokens it expects from them (join's arguments);
    pydevd keeps them in ``SetupHolder.setup``."""
    import pydevd

    setup = pydevd.SetupHolder.setup or {}
    return {
        "host": setup.get("client"),
        "port": setup.get("port"),
        "access_token": setup.get("access-token"),
        "client_access_token": setup.get("client-access-token"),
    }


def count_sessions() -> Any:
    """A function returning how many debug sessions have been configured in
    this process (pydevd's PyDB.on_configuration_done, called at each
    configurationDone)."""
    import pydevd

    py_db = pydevd.get_global_debugger()
    configured = py_db.on_configuration_done
    done = [0]

    def on_configuration_done() -> None:
        done[0] += 1
        configured()

    py_db.on_configuration_done = on_configuration_done
    return lambda: done[0]


def patch_report_sockets() -> None:
    """In debugpy's adapter process (debugpy_adapter.py): make
    ``sessions.report_sockets`` never raise.

    A new client's ``Client.__init__`` (adapter/clients.py) ends with
    ``sessions.report_sockets()``: a ``debugpySockets`` event to the client
    of the *oldest* session. When a debugger attaches while an earlier
    session is still ending (a restart, a quick re-attach, a debugger that
    vanished), that client's channel is closed, the send raises inside the
    adapter's accept loop (common/sockets.py, ``accept_worker``), and that
    thread dies: the adapter accepts no debugger any more. The event only
    tells a client the adapter's ports: a client that is gone is not told."""
    # In the adapter's own order: sessions first is a circular import (< 3.14).
    from debugpy.adapter import clients, servers, sessions  # noqa: F401
    from debugpy.common import log

    report_sockets = sessions.report_sockets

    def report_sockets_or_log() -> None:
        try:
            report_sockets()
        except Exception:
            log.swallow_exception("flask-uwsgi: debugpySockets not reported (its client is gone):", level="info")

    sessions.report_sockets = report_sockets_or_log


def patch_attach_waits_for_its_server() -> None:
    """In debugpy's adapter process (debugpy_adapter.py): a debugger's attach
    waits for its debug server while an ending session still holds it,
    rather than failing.

    An attach takes the oldest server connection (``servers.wait_for_connection``,
    adapter/clients.py ``attach_request``), even one that a session still
    holds while it ends, and then fails: "Server[pid=N] is already being
    debugged". A debugger that attaches within milliseconds of an earlier
    one vanishing meets exactly that (seen once in about 40 such re-attaches
    under load). With this it waits, at most as long as debugpy waits for a
    server, for that same connection to be let go (a few milliseconds), and
    ``Server.detach_from_session`` wakes it. A lookup (``timeout=0``, a
    subprocess's attach) is left as it is."""
    from debugpy.adapter import clients, servers, sessions  # noqa: F401  (the adapter's order)

    wait_for_connection = servers.wait_for_connection
    detach_from_session = servers.Server.detach_from_session

    def wait_until_free(session: Any, predicate: Any, timeout: float | None = None) -> Any:
        if timeout == 0:
            return wait_for_connection(session, predicate, timeout)

        def oldest_and_free(conn: Any) -> bool:  # (called with servers._lock held)
            oldest = next((c for c in servers._connections if predicate(c)), None)
            return conn is oldest and conn.server is None

        return wait_for_connection(session, oldest_and_free, timeout)

    def detach_and_wake(self: Any) -> None:
        detach_from_session(self)
        with servers._lock:
            servers._connections_changed.set()

    servers.wait_for_connection = wait_until_free
    servers.Server.detach_from_session = detach_and_wake
