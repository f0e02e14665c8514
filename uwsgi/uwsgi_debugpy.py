"""Start debugpy inside every uWSGI worker, where requests are handled.

Loaded through uWSGI's ``import`` option (the dev image's debug.ini); it knows
nothing about the app or its framework. Worker N listens on
DEBUGPY_HOST:DEBUGPY_PORT + N - 1, so with one worker a debugger attaches to
DEBUGPY_PORT itself. With DEBUGPY_WAIT on, a worker waits for its debugger
before it takes requests.

Why each step is here:
- never in the master: the attach would see a process that serves nothing;
- after fork (``uwsgidecorators.postfork``), or straight away when already
  imported in a worker (lazy-apps imports apps after the fork hooks ran);
- ``debugpy.configure(python=...)``: under uWSGI ``sys.executable`` is the
  uWSGI binary, which cannot run debugpy's adapter;
- retry on "address in use": a respawned worker's port may still be held by
  the adapter of the worker it replaces.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
import threading
import time

# Python 3.11+ warns about frozen modules under a debugger; pydevd's file
# validation is what the warning is about. Set before debugpy is imported, and
# inherited by its adapter process.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# A respawned worker waits this long for its predecessor's port.
RETRY_SECONDS = 60.0
RETRY_INTERVAL = 0.5
TRUE = {"1", "true", "yes", "on"}


def settings(environ: os._Environ[str] | dict[str, str]) -> tuple[str, int, bool]:
    """(host, first port, wait) from the environment, as the entrypoint validated it."""
    host = environ.get("DEBUGPY_HOST") or "0.0.0.0"
    port = int(environ.get("DEBUGPY_PORT") or 5678)
    wait = (environ.get("DEBUGPY_WAIT") or "").strip().lower() in TRUE
    return host, port, wait


def worker_port(first_port: int, worker_id: int) -> int:
    """Worker 1 gets the first port, worker 2 the next, and so on."""
    return first_port + worker_id - 1


def python_executable() -> str:
    """A real Python interpreter for debugpy's adapter (not the uWSGI binary)."""
    for name in ("python3", "python"):
        candidate = os.path.join(sys.prefix, "bin", name)
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("python3") or shutil.which("python") or sys.executable


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _address_in_use(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return True
    return "Address already in use" in str(exc) or f"[Errno {errno.EADDRINUSE}]" in str(exc)


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port (checked by binding, as debugpy would)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def listen(host: str, port: int, worker_id: int, *, retry_seconds: float = RETRY_SECONDS) -> bool:
    """Start debugpy's listener, waiting while the port is still taken.

    Each debugpy.listen() starts an adapter process, so the port is probed
    first rather than by calling listen() in a loop.
    """
    import debugpy

    debugpy.configure(python=python_executable())
    deadline = time.monotonic() + retry_seconds
    waited = False
    while True:
        if not port_in_use(host, port):
            try:
                debugpy.listen((host, port))
            except Exception as exc:  # debugpy wraps socket errors in RuntimeError
                if not _address_in_use(exc):
                    _log(f"debugpy: cannot listen on {host}:{port} (worker {worker_id}): {exc}")
                    return False
                # taken between the probe and listen(): wait as for a busy port
            else:
                _log(f"debugpy listening on {host}:{port} (worker {worker_id})")
                return True
        if time.monotonic() >= deadline:
            why = f"still in use after {retry_seconds:.0f} s"
            _log(f"debugpy: cannot listen on {host}:{port} (worker {worker_id}): {why}")
            return False
        if not waited:
            _log(f"debugpy: port {port} still in use, retrying (worker {worker_id})")
            waited = True
        time.sleep(RETRY_INTERVAL)


def start() -> None:
    """Start debugpy in this process if it is a uWSGI worker."""
    import uwsgi

    worker_id = uwsgi.worker_id()
    if worker_id <= 0:  # the master, a mule or a spooler
        return
    host, first_port, wait = settings(os.environ)
    port = worker_port(first_port, worker_id)
    if wait:
        if listen(host, port, worker_id):
            _log(f"debugpy: worker {worker_id} waits for a debugger on port {port}")
            import debugpy

            debugpy.wait_for_client()
        return
    # Serve at once; a retry for a busy port goes on in the background.
    threading.Thread(target=listen, args=(host, port, worker_id), name="debugpy-listen", daemon=True).start()


def install() -> None:
    """Run start() in every worker: now if this is one, else after each fork."""
    import uwsgi

    if uwsgi.worker_id() > 0:
        start()
    else:
        from uwsgidecorators import postfork

        postfork(start)


# Only inside uWSGI, which puts its embedded `uwsgi` module in sys.modules
# before importing anything; tests import this module for its functions.
if hasattr(sys.modules.get("uwsgi"), "worker_id"):
    install()
