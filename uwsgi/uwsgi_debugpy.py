"""Start debugpy inside every uWSGI worker, where requests are handled.

Loaded through uWSGI's ``import`` option (the dev image's debug.ini); it knows
nothing about the app or its framework. Two ways to reach the workers,
chosen by DEBUGPY_PORTS:

``one`` (default): one attach covers every worker. A small hub process,
    started by uWSGI as a daemon (debug-one-port.ini), runs ``debugpy.listen``
    on DEBUGPY_HOST:DEBUGPY_PORT and becomes the root of the debug session.
    Each worker connects to the hub's debug adapter, reporting the hub as its
    parent process, so the adapter offers it to the debugger as a subprocess
    (VS Code opens a child session for it by itself): workers forked later,
    after a respawn or a reload, join the same session.
``per-worker``: worker N listens on DEBUGPY_PORT + N - 1; attach to each.

With DEBUGPY_WAIT on, a worker waits for its debugger before it takes requests.

Why each step is here:
- never in the master: the attach would see a process that serves nothing,
  and workers forked from a traced master hang on shutdown;
- after fork (``uwsgidecorators.postfork``), or straight away when already
  imported in a worker (lazy-apps imports apps after the fork hooks ran);
- ``debugpy.configure(python=...)``: under uWSGI ``sys.executable`` is the
  uWSGI binary, which cannot run debugpy's adapter;
- per-worker: retry on "address in use": a respawned worker's port may still
  be held by the adapter of the worker it replaces.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

# Python 3.11+ warns about frozen modules under a debugger; pydevd's file
# validation is what the warning is about. Set before debugpy is imported, and
# inherited by its adapter process.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# A respawned worker waits this long for its predecessor's port (per-worker),
# a new worker this long for the hub to be up (one port).
RETRY_SECONDS = 60.0
RETRY_INTERVAL = 0.5
TRUE = {"1", "true", "yes", "on"}
ONE_PORT = "one"  # the other mode: "per-worker"
# Where the hub tells workers how to reach its adapter: written 0600 (it holds
# the adapter's access token) in the container's own /tmp. Beside it, uWSGI's
# pidfile of the hub (debug-one-port.ini); docker-entrypoint.sh removes both
# when a previous run of the container left them.
HUB_FILE = "/tmp/flask-uwsgi-debugpy-hub.json"  # noqa: S108


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    wait: bool
    mode: str


def settings(environ: os._Environ[str] | dict[str, str]) -> Settings:
    """The debugger's settings from the environment, as the entrypoint validated them."""
    return Settings(
        host=environ.get("DEBUGPY_HOST") or "0.0.0.0",
        port=int(environ.get("DEBUGPY_PORT") or 5678),
        wait=(environ.get("DEBUGPY_WAIT") or "").strip().lower() in TRUE,
        mode=(environ.get("DEBUGPY_PORTS") or ONE_PORT).strip().lower(),
    )


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


# --- one port: the hub ---------------------------------------------------------


def write_private(path: str, data: dict[str, Any]) -> None:
    """Write JSON readable by this user only, replacing ``path`` atomically."""
    fd, tmp = tempfile.mkstemp(prefix=".flask-uwsgi-debugpy.", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run_hub(config: Settings) -> None:
    """The hub's life: own the debug port, tell workers where to join, wait."""
    import debugpy

    debugpy.configure(python=python_executable(), subProcess=False)
    debugpy.listen((config.host, config.port))
    if config.wait:
        _log(f"debugpy: waiting for a debugger on port {config.port} before workers start")
        debugpy.wait_for_client()

    import pydevd

    # Where debugpy.listen() connected this process: the adapter's endpoint
    # for debuggees, and the token it expects from them.
    setup = pydevd.SetupHolder.setup
    hub = {
        "pid": os.getpid(),
        "host": setup["client"],
        "port": setup["port"],
        "access_token": setup.get("access-token"),
        "client_access_token": setup.get("client-access-token"),
    }

    def stop(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):
            os.unlink(HUB_FILE)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # uWSGI sends its reload signal to the hub on a graceful reload: the hub
    # stays, so the debug session outlives the reload.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    write_private(HUB_FILE, hub)
    _log(f"debugpy listening on {config.host}:{config.port} (every worker)")
    while True:
        signal.pause()


def read_hub(path: str, timeout: float) -> dict[str, Any] | None:
    """The hub's details once its file exists and the hub is alive."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as source:
                hub = json.load(source)
            os.kill(int(hub["pid"]), 0)
            return hub
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


def join_hub(hub: dict[str, Any], *, wait: bool) -> None:
    """Connect this process to the hub's adapter as a subprocess of the hub."""
    import debugpy
    import debugpy.server  # (puts debugpy's bundled pydevd on sys.path)
    import pydevd

    pydevd.settrace(
        host=hub["host"],
        port=int(hub["port"]),
        suspend=False,
        patch_multiprocessing=False,
        # With a debugger attached, return once it has set this worker's
        # breakpoints (DEBUGPY_WAIT) or at once; without one, at once.
        wait_for_ready_to_run=wait,
        access_token=hub["access_token"],
        client_access_token=hub.get("client_access_token"),
        # The adapter treats a debuggee whose parent is in a session as that
        # session's subprocess: the hub is the parent it reports.
        ppid=int(hub["pid"]),
        notify_stdin=False,
        dont_trace_start_patterns=(os.path.dirname(os.path.abspath(debugpy.__file__)),),
        dont_trace_end_patterns=("debugpy_launcher.py",),
    )


def connect_to_hub(config: Settings, worker_id: int, *, timeout: float = RETRY_SECONDS) -> bool:
    # With DEBUGPY_WAIT the hub writes its file only once a debugger is attached.
    hub = read_hub(HUB_FILE, timeout=365 * 86400 if config.wait else timeout)
    if hub is None:
        _log(f"debugpy: no debug hub after {timeout:.0f} s (worker {worker_id}): {HUB_FILE} is missing")
        return False
    try:
        join_hub(hub, wait=config.wait)
    except Exception as exc:
        _log(f"debugpy: worker {worker_id} cannot join the debug hub (pid {hub['pid']}): {exc}")
        return False
    _log(f"debugpy: worker {worker_id} joined the debug session on port {config.port}")
    return True


# --- in every worker ---------------------------------------------------------------


def start() -> None:
    """Start debugpy in this process if it is a uWSGI worker."""
    import uwsgi

    worker_id = uwsgi.worker_id()
    if worker_id <= 0:  # the master, a mule or a spooler
        return
    config = settings(os.environ)
    if config.mode == ONE_PORT:
        if config.wait:
            connect_to_hub(config, worker_id)
        else:
            threading.Thread(target=connect_to_hub, args=(config, worker_id), name="debugpy-join", daemon=True).start()
        return
    port = worker_port(config.port, worker_id)
    if config.wait:
        if listen(config.host, port, worker_id):
            _log(f"debugpy: worker {worker_id} waits for a debugger on port {port}")
            import debugpy

            debugpy.wait_for_client()
        return
    # Serve at once; a retry for a busy port goes on in the background.
    threading.Thread(target=listen, args=(config.host, port, worker_id), name="debugpy-listen", daemon=True).start()


def install() -> None:
    """Run start() in every worker: now if this is one, else after each fork."""
    import uwsgi

    if uwsgi.worker_id() > 0:
        start()
    else:
        from uwsgidecorators import postfork

        postfork(start)


if __name__ == "__main__":
    # python3 uwsgi_debugpy.py hub: the hub, run by uWSGI (debug-one-port.ini).
    if sys.argv[1:] != ["hub"]:
        sys.exit("usage: uwsgi_debugpy.py hub")
    run_hub(settings(os.environ))
# Only inside uWSGI, which puts its embedded `uwsgi` module in sys.modules
# before importing anything; tests import this module for its functions.
elif hasattr(sys.modules.get("uwsgi"), "worker_id"):
    install()
