"""One port (DEBUGPY_PORTS=one): the hub, a small process that owns the debug port.

uWSGI starts it as a daemon (debug-one-port.ini): ``python3 debugpy_hub.py``.
It runs ``debugpy.listen`` on DEBUGPY_HOST:DEBUGPY_PORT and becomes the root
of the debug session; it runs no app code. Workers (debugpy_worker.py) join
that session as its subprocesses, and only while a debugger is attached, so
with nobody attached they run untraced, at full speed.

The hub and the workers talk over a unix socket in the container's runtime
directory (0600, the container's user only): one JSON line per state, the
current one as soon as a worker connects, then each change. "Attached"
carries what a worker needs to join (the adapter's endpoint and token, the
hub's pid, the session's number).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

import debugpy_internals_adapter as internals
from debugpy_config import RETRY_INTERVAL, RETRY_SECONDS, Settings, adapter_program, log, settings

# How often the hub looks whether a debugger is attached (it does nothing else).
POLL_SECONDS = 0.05


def hub_socket_path() -> str:
    return os.path.join(os.environ["FLASK_UWSGI_RUN"], "debugpy-hub.sock")


class HubChannel:
    """The hub's side: accepts workers and tells each one every state."""

    def __init__(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.server.bind(path)
        finally:
            os.umask(old)
        self.server.listen(64)
        self.state: dict[str, Any] = {"attached": False}
        self.workers: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name="debugpy-hub-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                if self._send(conn, self.state):
                    self.workers.append(conn)

    @staticmethod
    def _send(conn: socket.socket, state: dict[str, Any]) -> bool:
        try:
            conn.sendall(json.dumps(state).encode() + b"\n")
            return True
        except OSError:
            conn.close()
            return False

    def publish(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.state = state
            self.workers = [conn for conn in self.workers if self._send(conn, state)]


def follow_hub(path: str, on_state: Any, *, stop: threading.Event | None = None) -> None:
    """A worker's side: call ``on_state(state)`` for each state the hub sends;
    ``{"attached": False}`` also when the hub goes away. Reconnects for ever
    (a hub restarted by uWSGI comes back on the same path)."""
    while stop is None or not stop.is_set():
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(path)
                for line in conn.makefile("r", encoding="utf-8"):
                    on_state(json.loads(line))
        except (OSError, ValueError):
            pass
        on_state({"attached": False, "hub": "gone"})
        time.sleep(RETRY_INTERVAL)


def wait_for_hub(worker_id: int, timeout: float = RETRY_SECONDS) -> None:
    """Return once the hub answers on its socket, which it opens once its debug
    port listens: a worker serves only then, so that once the app answers, an
    attach works (the hub is started by uWSGI's master after the workers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(hub_socket_path())
            return
        except OSError:
            if time.monotonic() >= deadline:
                log(f"debugpy: worker {worker_id} serves without the debug hub: not there after {timeout:.0f} s")
                return
            time.sleep(0.02)


def run_hub(config: Settings) -> None:
    """The hub's life: own the debug port, tell workers when to join, wait."""
    import debugpy

    debugpy.configure(python=adapter_program(), subProcess=False)
    debugpy.listen((config.host, config.port))
    # What a worker needs to join this process's session as its subprocess.
    join = {"attached": True, "pid": os.getpid(), **internals.adapter_endpoint()}
    channel = HubChannel(hub_socket_path())

    def stop(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):
            os.unlink(hub_socket_path())
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # uWSGI sends its reload signal to the hub on a graceful reload: the hub
    # stays, so the debug session outlives the reload.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    log(f"debugpy listening on {config.host}:{config.port} (every worker)")
    if config.wait:
        log(f"debugpy: waiting for a debugger on port {config.port} before workers start")
    sessions = internals.count_sessions()
    published: tuple[bool, int] = (False, 0)
    while True:
        # debugpy's public view of the root session: true from its
        # configurationDone to its disconnect. The session's number tells a
        # debugger that attached within one poll of another's leaving.
        now = (debugpy.is_client_connected(), sessions())
        if now != published:
            published = now
            channel.publish({**join, "session": now[1]} if now[0] else {"attached": False})
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    if sys.argv[1:]:
        sys.exit("usage: debugpy_hub.py (run by uWSGI, debug-one-port.ini)")
    run_hub(settings(os.environ))
