"""One port (DEBUGPY_PORTS=one): a worker, joining the hub's session while a debugger is attached.

Each worker keeps a connection to the hub's socket (debugpy_hub.py). When a
debugger attaches, the hub tells every worker, and each connects to the hub's
debug adapter reporting the hub as its parent process, so the adapter offers
it to the debugger as a subprocess (VS Code opens a child session for it by
itself). When the debugger leaves, the workers stop tracing. Workers forked
later, after a respawn or a reload, learn the state when they connect.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import debugpy_internals_worker as internals
from debugpy_config import Settings, adapter_program, log
from debugpy_hub import follow_hub, hub_socket_path, wait_for_hub

# A worker joins a session no sooner than this after leaving one (debugpy's
# adapter refuses a process it still holds a connection for: the one this
# worker closed when it left, until the adapter has seen it close), and
# tries this many times.
REJOIN_SECONDS = 0.3
JOIN_ATTEMPTS = 5
# A worker that no debugger took up this long after it joined joins again,
# this many times at most.
UNSEEN_SECONDS = 3.0
UNSEEN_ATTEMPTS = 3


def preload() -> None:
    """Import debugpy and the pydevd it bundles (slow: a few tenths of a second)."""
    import debugpy
    import debugpy.server
    import pydevd  # noqa: F401

    debugpy.configure(python=adapter_program())


class Worker:
    """A worker in one-port mode: joins while a debugger is attached."""

    def __init__(self, config: Settings, worker_id: int) -> None:
        self.config, self.worker_id = config, worker_id
        self.lock = threading.RLock()
        # The hub's session this worker joined (0: none), the one the hub
        # last announced (0: none), and when this worker last left one.
        self.session = self.announced = 0
        self.left_at = -REJOIN_SECONDS
        self.attached = threading.Event()
        self.first: dict[str, Any] = {}

    def on_state(self, state: dict[str, Any]) -> None:
        session = int(state.get("session") or 0) if state.get("attached") else 0
        with self.lock:
            self.announced = session
            if session == self.session:
                return
            if self.session:
                self.leave()
            if session:
                self.join(state)
                self.check_later(state, UNSEEN_ATTEMPTS)

    def check_later(self, state: dict[str, Any], attempts: int) -> None:
        """The adapter reports a joining worker to the session of the hub it
        finds first; one that a vanished debugger left behind may still be
        there, and then the new debugger never hears of this worker. If no
        debugger configured this worker's session a while after it joined,
        join again (a few times: a client that does not follow subprocesses
        never will)."""

        def check() -> None:
            import debugpy

            with self.lock:
                # (also when its last join was refused: the session is the same)
                if self.announced != int(state.get("session") or 1) or debugpy.is_client_connected():
                    return
                log(f"debugpy: worker {self.worker_id}: no debugger took it up; joining again")
                self.leave(quiet=True)
                self.join(state)
            if attempts > 1:
                self.check_later(state, attempts - 1)

        timer = threading.Timer(UNSEEN_SECONDS, check)
        timer.daemon = True
        # (untraced, as the thread that follows the hub)
        timer.pydev_do_not_trace = timer.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
        timer.start()

    def join(self, state: dict[str, Any], *, wait: bool = False) -> None:
        # (REJOIN_SECONDS says why a worker may be refused.)
        for _ in range(JOIN_ATTEMPTS):
            time.sleep(max(0.0, self.left_at + REJOIN_SECONDS - time.monotonic()))
            try:
                internals.join(state, wait=wait)
            except Exception as exc:
                log(f"debugpy: worker {self.worker_id} cannot join the debug session: {exc}")
                return
            self.session = int(state.get("session") or 1)
            if not internals.refused():
                log(f"debugpy: worker {self.worker_id} joined the debug session on port {self.config.port}")
                return
            self.leave(quiet=True)
        log(f"debugpy: worker {self.worker_id} cannot join the debug session: refused {JOIN_ATTEMPTS} times")

    def leave(self, *, quiet: bool = False) -> None:
        self.session = 0
        self.left_at = time.monotonic()
        try:
            internals.leave()
        except Exception as exc:
            log(f"debugpy: worker {self.worker_id} cannot leave the debug session: {exc}")
            return
        if not quiet:
            log(f"debugpy: worker {self.worker_id} left the debug session")

    def follow(self) -> None:
        # pydevd must not see this thread: a breakpoint's "suspend all" would
        # freeze it, and it could not act when the debugger leaves.
        me = threading.current_thread()
        me.pydev_do_not_trace = me.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
        preload()  # (already done in the master, unless lazy-apps)
        follow_hub(hub_socket_path(), self.on_state)

    def wait_for_debugger(self) -> None:
        """DEBUGPY_WAIT: block until a debugger is attached, and join it before serving."""

        def first(state: dict[str, Any]) -> None:
            if state.get("attached") and not self.attached.is_set():
                self.first = state
                self.attached.set()

        stop = threading.Event()
        threading.Thread(target=follow_hub, args=(hub_socket_path(), first), kwargs={"stop": stop}, daemon=True).start()
        self.attached.wait()
        stop.set()
        self.join(self.first, wait=True)


def start(config: Settings, worker_id: int) -> None:
    """Serve once the hub answers (with DEBUGPY_WAIT, once a debugger is
    attached and has configured this worker), and follow the hub."""
    worker = Worker(config, worker_id)
    if config.wait:
        worker.wait_for_debugger()
    else:
        wait_for_hub(worker_id)
    threading.Thread(target=worker.follow, name="debugpy-hub-follow", daemon=True).start()
    log(f"debugpy: worker {worker_id} ready to join the debug session on port {config.port}")
