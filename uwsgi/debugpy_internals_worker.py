"""Every use of debugpy that is not its public API in a uWSGI worker: joining
a debug session, and leaving it.

debugpy's public API (listen, connect, configure, is_client_connected,
debug_this_thread, trigger_exception_handler) cannot make a process leave a
session and join the next one, nor resume a worker whose debugger vanished.
For those, this module uses pydevd, which debugpy bundles, the way debugpy's
own subprocess support does. Where the adapter is, and what runs in its
process, is debugpy_internals_adapter.py. Written for, and tested on, debugpy
WRITTEN_FOR, the version that module names (requirements/dev.txt pins it;
uwsgi_debugpy checks it at start-up, and the image is checked).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from typing import Any

# The debugpy this module was written for: one pin for both modules.
from debugpy_internals_adapter import WRITTEN_FOR as WRITTEN_FOR

REFUSED_SECONDS = 0.3  # how long refused() watches a new connection
# How long join() lets pydevd finish disposing of a debugger whose
# connection closed (it waits up to 0.5 s twice for its threads).
DISPOSE_SECONDS = 3.0


def join(adapter: dict[str, Any], *, wait: bool) -> None:
    """Connect this process to the adapter at ``adapter`` (the keys of
    debugpy_internals_adapter.adapter_endpoint), as a subprocess of
    ``adapter["pid"]`` when given.

    ``pydevd.settrace`` rather than ``debugpy.connect``: connect keeps the
    previous connection's setup (pydevd's SetupHolder), so a process could
    not join a second time, and it has no way to return before the debugger
    has configured the process (``wait``)."""
    import debugpy
    import debugpy.server  # (puts debugpy's bundled pydevd on sys.path, in DAP mode)
    import pydevd

    _discard_disposed()
    pydevd.SetupHolder.setup = None
    pydevd.settrace(
        host=adapter["host"],
        port=int(adapter["port"]),
        suspend=False,
        patch_multiprocessing=False,
        # With DEBUGPY_WAIT, return once the debugger has set this worker's
        # breakpoints; else at once (breakpoints arrive a moment later).
        wait_for_ready_to_run=wait,
        access_token=adapter["access_token"],
        client_access_token=adapter.get("client_access_token"),
        # The adapter treats a debuggee whose parent is in a session as that
        # session's subprocess: the hub is the parent it reports.
        ppid=int(adapter["pid"]) if adapter.get("pid") else None,
        notify_stdin=False,
        dont_trace_start_patterns=(os.path.dirname(os.path.abspath(debugpy.__file__)),),
        dont_trace_end_patterns=("debugpy_launcher.py",),
    )
    # pydevd caches what it worked out per code object (the breakpoints in
    # it, their conditions) under its debugger's breakpoint version, which
    # starts again at 0 in each new debugger: this session's debugger must
    # go on from the last one's, or a cache entry of an earlier session
    # would pass for current.
    py_db = pydevd.get_global_debugger()
    if py_db is not None:
        _last_version[0] += 1
        py_db.mtime = _last_version[0]


def _discard_disposed(timeout: float = DISPOSE_SECONDS) -> None:
    """Wait until no disposed debugger is installed: ``settrace`` connects
    only when none is, and is a silent no-op otherwise. pydevd uninstalls a
    debugger whose connection closed once it has stopped its threads
    (``PyDB.dispose_and_kill_all_pydevd_threads``), but never if that failed
    part-way (the error is swallowed before the uninstall): then it is
    uninstalled here."""
    import pydevd
    from _pydevd_bundle.pydevd_constants import set_global_debugger

    deadline = time.monotonic() + timeout
    while (py_db := pydevd.get_global_debugger()) is not None and py_db.pydb_disposed:
        if time.monotonic() >= deadline:
            set_global_debugger(None)
            return
        time.sleep(0.02)


# The last breakpoint version (pydevd's ``PyDB.mtime``) of this process's debuggers.
_last_version = [0]


def connected() -> bool:
    """Whether this process's connection to its adapter is up (pydevd
    disposes of its debugger when the adapter closes it)."""
    import pydevd

    py_db = pydevd.get_global_debugger()
    return py_db is not None and not py_db.pydb_disposed


def forget_connection() -> None:
    """Before joining again after the adapter dropped this process."""
    import pydevd

    py_db = pydevd.get_global_debugger()
    if py_db is not None:
        _last_version[0] = max(_last_version[0], int(getattr(py_db, "mtime", 0)))


def refused(timeout: float = REFUSED_SECONDS) -> bool:
    """Whether the adapter closed this process's new connection at once,
    which is how it refuses one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not connected():
            return True
        time.sleep(0.02)
    return False


def release() -> None:
    """What a DAP ``disconnect`` does, for a debugger that vanished without one
    (an IDE killed, a laptop asleep): clear every breakpoint and resume every
    paused thread. pydevd suspends all of a worker's threads at a breakpoint,
    so a worker left paused would take no request again."""
    import pydevd
    from _pydevd_bundle.pydevd_api import PyDevdAPI

    py_db = pydevd.get_global_debugger()
    if py_db is not None:
        PyDevdAPI().request_disconnect(py_db, resume_threads=True)


def _untrace(frame: object, event: str, arg: object) -> None:
    sys.settrace(None)


def leave() -> None:
    """Stop tracing this process: the debugger went away."""
    import pydevd
    import pydevd_tracing
    from _pydevd_bundle.pydevd_constants import PYDEVD_USE_SYS_MONITORING

    release()
    forget_connection()
    # (a copy of the connection's descriptor: pydevd closes its own)
    connection = _duplicate(getattr(pydevd.get_global_debugger(), "_client_socket", None))
    pydevd.stoptrace()
    _hang_up(connection)
    if not PYDEVD_USE_SYS_MONITORING:
        # Python < 3.12: stoptrace() untraces only the calling thread; the
        # request threads would keep pydevd's (now idle) tracer, at a tenth
        # of their speed.
        pydevd_tracing.set_trace_to_threads(_untrace)


def _duplicate(connection: socket.socket | None) -> socket.socket | None:
    try:
        return connection.dup() if connection is not None else None
    except OSError:
        return None


def _hang_up(connection: socket.socket | None) -> None:
    """End the connection to the adapter for real once pydevd closed it.

    Closing a descriptor does not end a connection while another thread waits
    in recv() on it (Linux keeps the socket until that call returns), and
    pydevd's reader thread may: the adapter would never hear that this
    process left. Seen
    with a debugger that vanished: this process's last message, "terminated",
    reached the adapter while it was ending the session and waiting, with the
    session locked, for this process to answer its "disconnect" (which pydevd
    no longer could); the session never ended, and the adapter refused this
    process's every later join as "already connected". A shutdown() ends the
    connection whoever is still using it: the adapter's wait ends, and the
    reader's recv() returns."""
    if connection is None:
        return
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        connection.close()
