"""Per-worker ports (DEBUGPY_PORTS=per-worker): worker N listens on DEBUGPY_PORT + N - 1.

Each worker runs its own ``debugpy.listen`` (its own adapter) and is traced
from its start, attached or not; a debugger attaches to each port.
"""

from __future__ import annotations

import errno
import socket
import threading
import time

import debugpy_internals_worker as internals
from debugpy_config import RETRY_INTERVAL, RETRY_SECONDS, Settings, adapter_program, log, worker_port
from debugpy_internals_adapter import adapter_endpoint

# How often a worker checks its adapter's connection.
KEEP_SECONDS = 0.5
# How long a new worker waits for the other workers' ports to listen.
SIBLINGS_SECONDS = 15.0


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


# Set once debugpy.listen() succeeded in this process.
listening = threading.Event()


def listen(host: str, port: int, worker_id: int, *, retry_seconds: float = RETRY_SECONDS) -> bool:
    """Start debugpy's listener, waiting while the port is still taken.

    Each debugpy.listen() starts an adapter process, so the port is probed
    first rather than by calling listen() in a loop.
    """
    import debugpy

    debugpy.configure(python=adapter_program())
    deadline = time.monotonic() + retry_seconds
    waited = False
    while True:
        if not port_in_use(host, port):
            try:
                debugpy.listen((host, port))
            except Exception as exc:  # debugpy wraps socket errors in RuntimeError
                if not _address_in_use(exc):
                    log(f"debugpy: cannot listen on {host}:{port} (worker {worker_id}): {exc}")
                    return False
                # taken between the probe and listen(): wait as for a busy port
            else:
                listening.set()
                log(f"debugpy listening on {host}:{port} (worker {worker_id})")
                return True
        if time.monotonic() >= deadline:
            why = f"still in use after {retry_seconds:.0f} s"
            log(f"debugpy: cannot listen on {host}:{port} (worker {worker_id}): {why}")
            return False
        if not waited:
            log(f"debugpy: port {port} still in use, retrying (worker {worker_id})")
            waited = True
        time.sleep(RETRY_INTERVAL)


def keep_connected(worker_id: int) -> None:
    """Reconnect to this worker's own adapter when it drops the worker (it
    may, when its debugger vanishes without a disconnect); without it, the
    next attach would wait for a debuggee for ever."""
    me = threading.current_thread()
    me.pydev_do_not_trace = me.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    adapter = adapter_endpoint()
    lost, failure = False, ""  # each logged once, until the worker is connected again
    while adapter["port"]:
        time.sleep(KEEP_SECONDS)
        if internals.connected():
            lost = False
            continue
        if not lost:
            log(f"debugpy: worker {worker_id} lost its debug adapter's connection; connecting again")
            lost, failure = True, ""
        try:
            internals.forget_connection()
            internals.join(adapter, wait=False)
        except Exception as exc:
            # The adapter may still be ending the vanished debugger's session: try on.
            if repr(exc) != failure:
                log(f"debugpy: worker {worker_id} cannot connect to its debug adapter yet: {exc!r}")
                failure = repr(exc)


def listen_and_keep(config: Settings, port: int, worker_id: int, *, background: bool = False) -> bool:
    """Listen, then keep the worker connected to its adapter; False if it cannot listen."""
    if not listen(config.host, port, worker_id):
        return False
    if background:
        threading.Thread(target=keep_connected, args=(worker_id,), name="debugpy-keep", daemon=True).start()
    else:
        keep_connected(worker_id)
    return True


def start(config: Settings, worker_id: int) -> None:
    """Listen before this worker serves (once the app answers, an attach
    works); with DEBUGPY_WAIT, serve only once a debugger is attached."""
    port = worker_port(config.port, worker_id)
    if config.wait:
        if listen(config.host, port, worker_id):
            log(f"debugpy: worker {worker_id} waits for a debugger on port {port}")
            import debugpy

            debugpy.wait_for_client()
        return
    if port_in_use(config.host, port):
        # A respawn: the adapter of the worker it replaces may hold the port
        # while its client is connected. Serve at once, retry in the background.
        args = (config, port, worker_id)
        threading.Thread(target=listen_and_keep, args=args, name="debugpy-listen", daemon=True).start()
        return
    if listen_and_keep(config, port, worker_id, background=True):
        wait_for_siblings(config, worker_id)


def wait_for_siblings(config: Settings, worker_id: int) -> None:
    """Serve only once every worker's port listens, or SIBLINGS_SECONDS
    passed: the kernel may hand the app's first request to the worker that
    listened first, and once the app answers, an attach to any port works."""
    import uwsgi

    ports = [worker_port(config.port, n) for n in range(1, uwsgi.numproc + 1)]
    deadline = time.monotonic() + SIBLINGS_SECONDS
    while not all(port_in_use(config.host, port) for port in ports):
        if time.monotonic() >= deadline:
            log(f"debugpy: worker {worker_id} serves before every debug port listens ({SIBLINGS_SECONDS:.0f} s passed)")
            return
        time.sleep(0.02)
