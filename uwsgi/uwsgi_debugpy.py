"""Start debugpy inside every uWSGI worker, where requests are handled.

Loaded through uWSGI's ``import`` option (the dev image's debug.ini); it knows
nothing about the app or its framework. Two ways to reach the workers,
chosen by DEBUGPY_PORTS:

``one`` (default): one attach covers every worker. A small hub process,
    started by uWSGI as a daemon (debug-one-port.ini), runs ``debugpy.listen``
    on DEBUGPY_HOST:DEBUGPY_PORT and becomes the root of the debug session.
    Workers join only while a debugger is attached, so with nobody attached
    they run untraced, at full speed. Each worker keeps a connection to the
    hub's control socket; when a debugger attaches, the hub tells every
    worker, and each connects to the hub's debug adapter reporting the hub as
    its parent process, so the adapter offers it to the debugger as a
    subprocess (VS Code opens a child session for it by itself). When the
    debugger leaves, the workers stop tracing. Workers forked later, after a
    respawn or a reload, learn the state when they connect.
``per-worker``: worker N listens on DEBUGPY_PORT + N - 1; attach to each.
    Each worker is traced from its start, attached or not.

With DEBUGPY_WAIT on, a worker waits for its debugger before it takes requests.

Why each step is here:
- never in the master: the attach would see a process that serves nothing,
  and workers forked from a traced master hang on shutdown; the master only
  imports debugpy, once, so that workers need not (it starts no thread and
  traces nothing);
- after fork (``uwsgidecorators.postfork``), or straight away when already
  imported in a worker (lazy-apps imports apps after the fork hooks ran);
- ``debugpy.configure(python=...)``: under uWSGI ``sys.executable`` is the
  uWSGI binary, which cannot run debugpy's adapter;
- per-worker: retry on "address in use": a respawned worker's port may still
  be held by the adapter of the worker it replaces.

In debug mode the app's responses are iterated in Python (``debuggable``,
below, says why), so that VS Code's default "Uncaught Exceptions" stops only
where the app really lets an exception out.

Beyond debugpy's public API (listen, configure, is_client_connected,
debug_this_thread, trigger_exception_handler), this module uses pydevd,
which debugpy bundles, the way debugpy's own subprocess support does:
``pydevd.SetupHolder.setup`` for the adapter's endpoint and access token
(debugpy exposes no other way to have a process join a session as another
one's subprocess), ``pydevd.settrace`` to join, ``pydevd.stoptrace`` to
leave; ``PyDevdAPI.request_disconnect`` to resume a worker whose debugger
vanished; the debugger's ``mtime`` (its breakpoint version), carried from
one join to the next; ``pydb_disposed`` to see a connection refused or
dropped; and, in the hub, ``PyDB.on_configuration_done`` to count sessions.
That is tied to the pinned debugpy 1.8.22 (requirements/dev.txt);
tests/images/test_debugger.py and test_debugger_as_vscode.py attach, break,
detach and attach again through it on every Python version.
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
import threading
import time
from dataclasses import dataclass
from typing import Any

# Python 3.11+ warns about frozen modules under a debugger; pydevd's file
# validation is what the warning is about. Set before debugpy is imported, and
# inherited by its adapter process.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# A respawned worker waits this long for its predecessor's port (per-worker);
# a worker retries the hub's socket this often (one port).
RETRY_SECONDS = 60.0
RETRY_INTERVAL = 0.5
TRUE = {"1", "true", "yes", "on"}
ONE_PORT = "one"  # the other mode: "per-worker"


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


# Set once debugpy.listen() succeeded in this process (per-worker ports).
_listening = threading.Event()


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
                _listening.set()
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
# The hub and the workers talk over a unix socket in the container's runtime
# directory (0700, the container's user only): one JSON line per state, the
# current one as soon as a worker connects, then each change. "Attached"
# carries what a worker needs to join (the adapter's endpoint and token).

# How often the hub looks whether a debugger is attached (it does nothing else).
POLL_SECONDS = 0.05
# A worker joins a session no sooner than this after leaving one, watches its
# new connection this long for a refusal, and tries this many times.
REJOIN_SECONDS = 0.3
REFUSED_SECONDS = 0.3
JOIN_ATTEMPTS = 5
# A worker that no debugger took up this long after it joined joins again,
# this many times at most.
UNSEEN_SECONDS = 3.0
UNSEEN_ATTEMPTS = 3
# How often a worker on its own port checks its adapter's connection.
KEEP_SECONDS = 0.5


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
                _log(f"debugpy: worker {worker_id} serves without the debug hub: not there after {timeout:.0f} s")
                return
            time.sleep(0.02)


def run_hub(config: Settings) -> None:
    """The hub's life: own the debug port, tell workers when to join, wait."""
    import debugpy

    debugpy.configure(python=python_executable(), subProcess=False)
    debugpy.listen((config.host, config.port))
    # What a worker needs to join this process's session as its subprocess.
    join = {"attached": True, "pid": os.getpid(), **adapter_endpoint()}
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
    _log(f"debugpy listening on {config.host}:{config.port} (every worker)")
    if config.wait:
        _log(f"debugpy: waiting for a debugger on port {config.port} before workers start")
    sessions = count_sessions()
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


def adapter_endpoint() -> dict[str, Any]:
    """Where debugpy.listen() connected this process: its adapter's endpoint
    for debuggees, and the tokens it expects from them (join_hub's arguments)."""
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
    configurationDone; debugpy has no public view of it)."""
    import pydevd

    py_db = pydevd.get_global_debugger()
    configured = py_db.on_configuration_done
    done = [0]

    def on_configuration_done() -> None:
        done[0] += 1
        configured()

    py_db.on_configuration_done = on_configuration_done
    return lambda: done[0]


def join_hub(hub: dict[str, Any], *, wait: bool) -> None:
    """Connect this process to the hub's adapter as a subprocess of the hub."""
    import debugpy
    import debugpy.server  # (puts debugpy's bundled pydevd on sys.path, in DAP mode)
    import pydevd

    # settrace keeps a previous join's setup: this one is new.
    pydevd.SetupHolder.setup = None
    pydevd.settrace(
        host=hub["host"],
        port=int(hub["port"]),
        suspend=False,
        patch_multiprocessing=False,
        # With DEBUGPY_WAIT, return once the debugger has set this worker's
        # breakpoints; else at once (breakpoints arrive a moment later).
        wait_for_ready_to_run=wait,
        access_token=hub["access_token"],
        client_access_token=hub.get("client_access_token"),
        # The adapter treats a debuggee whose parent is in a session as that
        # session's subprocess: the hub is the parent it reports.
        ppid=int(hub["pid"]) if hub.get("pid") else None,
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
        py_db.mtime = _versions.next()


class _BreakpointVersions:
    """The breakpoint versions this process's pydevd debuggers have used."""

    def __init__(self) -> None:
        self.last = 0

    def seen(self, py_db: Any) -> None:
        self.last = max(self.last, int(getattr(py_db, "mtime", 0)))

    def next(self) -> int:
        self.last += 1
        return self.last


_versions = _BreakpointVersions()


def keep_connected(worker_id: int) -> None:
    """Per-worker ports: reconnect to this worker's own adapter when it drops
    the worker (it may, when its debugger vanishes without a disconnect);
    without it, the next attach would wait for a debuggee for ever."""
    import pydevd

    me = threading.current_thread()
    me.pydev_do_not_trace = me.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    adapter = adapter_endpoint()
    while adapter["port"]:
        time.sleep(KEEP_SECONDS)
        py_db = pydevd.get_global_debugger()
        if py_db is not None and not py_db.pydb_disposed:
            continue
        _log(f"debugpy: worker {worker_id} lost its debug adapter's connection; connecting again")
        try:
            if py_db is not None:
                _versions.seen(py_db)
            join_hub(adapter, wait=False)
        except Exception as exc:
            _log(f"debugpy: worker {worker_id} cannot connect to its debug adapter again: {exc}")
            return


def refused(timeout: float = REFUSED_SECONDS) -> bool:
    """Whether the adapter closed this process's new connection at once (pydevd
    then disposes of its debugger), which is how it refuses one."""
    import pydevd

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        py_db = pydevd.get_global_debugger()
        if py_db is None or py_db.pydb_disposed:
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


def leave_hub() -> None:
    """Stop tracing this process: the debugger went away."""
    import pydevd
    import pydevd_tracing
    from _pydevd_bundle.pydevd_constants import PYDEVD_USE_SYS_MONITORING

    release()
    py_db = pydevd.get_global_debugger()
    if py_db is not None:
        _versions.seen(py_db)
    pydevd.stoptrace()
    if not PYDEVD_USE_SYS_MONITORING:
        # Python < 3.12: stoptrace() untraces only the calling thread; the
        # request threads would keep pydevd's (now idle) tracer, at a tenth
        # of their speed.
        pydevd_tracing.set_trace_to_threads(_untrace)


class Worker:
    """A worker in one-port mode: joins while a debugger is attached."""

    def __init__(self, config: Settings, worker_id: int) -> None:
        self.config, self.worker_id = config, worker_id
        self.lock = threading.RLock()
        # The hub's session this worker joined (0: none), and when it last left one.
        self.session = 0
        self.left_at = -REJOIN_SECONDS
        self.attached = threading.Event()
        self.first: dict[str, Any] = {}

    def on_state(self, state: dict[str, Any]) -> None:
        session = int(state.get("session") or 0) if state.get("attached") else 0
        with self.lock:
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
                if self.session != int(state.get("session") or 1) or debugpy.is_client_connected():
                    return
                _log(f"debugpy: worker {self.worker_id}: no debugger took it up; joining again")
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
        # debugpy's adapter refuses a process it still holds a connection for:
        # the one this worker closed when it left, until the adapter has seen
        # it close. Give it that moment, and try again if refused.
        for _ in range(JOIN_ATTEMPTS):
            time.sleep(max(0.0, self.left_at + REJOIN_SECONDS - time.monotonic()))
            try:
                join_hub(state, wait=wait)
            except Exception as exc:
                _log(f"debugpy: worker {self.worker_id} cannot join the debug session: {exc}")
                return
            self.session = int(state.get("session") or 1)
            if not refused():
                _log(f"debugpy: worker {self.worker_id} joined the debug session on port {self.config.port}")
                return
            self.leave(quiet=True)
        _log(f"debugpy: worker {self.worker_id} cannot join the debug session: refused {JOIN_ATTEMPTS} times")

    def leave(self, *, quiet: bool = False) -> None:
        self.session = 0
        self.left_at = time.monotonic()
        try:
            leave_hub()
        except Exception as exc:
            _log(f"debugpy: worker {self.worker_id} cannot leave the debug session: {exc}")
            return
        if not quiet:
            _log(f"debugpy: worker {self.worker_id} left the debug session")

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


# --- the request path in debug mode --------------------------------------------
# uWSGI iterates a WSGI response from C. The StopIteration that ends it (raised
# in Python by the response's iterator, werkzeug's ClosingIterator say) then
# leaves Python with no Python caller, and pydevd reports it as uncaught: with
# VS Code's default "Uncaught Exceptions" filter and justMyCode false, every
# request would stop there. Handed a Python generator instead, uWSGI sees the
# response end without an exception: the generator catches the StopIteration
# in Python. An exception the app really lets out still leaves through it,
# uncaught, and stops where it was raised.

# Python 3.12+: pydevd sees an exception leave Python for C (sys.monitoring).
# Before, it does not, and the exception is handed over with debugpy's
# trigger_exception_handler (it stops only where "Uncaught Exceptions" is on).
REPORTS_UNCAUGHT = sys.version_info >= (3, 12)
_threads = threading.local()


def debuggable(app: Any) -> Any:
    """The WSGI app ``app`` with its responses iterated in Python (debug mode only)."""

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        _trace_this_thread()
        file_wrapper = environ.get("wsgi.file_wrapper")
        files: list[object] = []
        if file_wrapper is not None:

            def wrap_file(*args: Any, **kwargs: Any) -> Any:
                wrapped = file_wrapper(*args, **kwargs)
                files.append(wrapped)
                return wrapped

            environ["wsgi.file_wrapper"] = wrap_file
        try:
            response = app(environ, start_response)
        except Exception:
            _report_uncaught()
            raise
        # A file from wsgi.file_wrapper is sent by uWSGI itself (sendfile,
        # or read() from C), which raises nothing; lists and tuples neither.
        if isinstance(response, (list, tuple)) or any(response is wrapped for wrapped in files):
            return response
        return _iterate(response)

    return application


def _iterate(response: Any) -> Any:
    try:
        yield from response
    except Exception:
        _report_uncaught()
        raise
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


def _report_uncaught() -> None:
    if not REPORTS_UNCAUGHT:
        import debugpy

        debugpy.trigger_exception_handler()


def _trace_this_thread() -> None:
    """Per-worker ports, Python < 3.12: make debugpy trace this request thread.

    uWSGI starts its request threads from C, which pydevd's tracing (before
    sys.monitoring) does not follow; debugpy.debug_this_thread() is its
    interface for such threads. Once per thread, after this worker's listen.
    """
    if REPORTS_UNCAUGHT or not _listening.is_set() or getattr(_threads, "traced", False):
        return
    import debugpy

    debugpy.debug_this_thread()
    _threads.traced = True


# --- in every worker ---------------------------------------------------------------


def start() -> None:
    """Start debugpy in this process if it is a uWSGI worker."""
    import uwsgi

    worker_id = uwsgi.worker_id()
    if worker_id <= 0:  # the master, a mule or a spooler
        return
    config = settings(os.environ)
    if config.mode == ONE_PORT:
        worker = Worker(config, worker_id)
        if config.wait:
            worker.wait_for_debugger()
        else:
            wait_for_hub(worker_id)
        threading.Thread(target=worker.follow, name="debugpy-hub-follow", daemon=True).start()
        _log(f"debugpy: worker {worker_id} ready to join the debug session on port {config.port}")
        return
    port = worker_port(config.port, worker_id)
    if config.wait:
        if listen(config.host, port, worker_id):
            _log(f"debugpy: worker {worker_id} waits for a debugger on port {port}")
            import debugpy

            debugpy.wait_for_client()
        return
    if port_in_use(config.host, port):
        # A respawn: the adapter of the worker it replaces may hold the port
        # while its client is connected. Serve at once, retry in the background.
        args = (config, port, worker_id)
        threading.Thread(target=listen_and_keep, args=args, name="debugpy-listen", daemon=True).start()
        return
    # Listening before this worker serves: once the app answers, an attach works.
    listen_and_keep(config, port, worker_id, background=True)


def listen_and_keep(config: Settings, port: int, worker_id: int, *, background: bool = False) -> None:
    """Per-worker ports: listen, then keep the worker connected to its adapter."""
    if not listen(config.host, port, worker_id):
        return
    if background:
        threading.Thread(target=keep_connected, args=(worker_id,), name="debugpy-keep", daemon=True).start()
    else:
        keep_connected(worker_id)


def preload() -> None:
    """Import debugpy and the pydevd it bundles (slow: a few tenths of a second)."""
    import debugpy
    import debugpy.server
    import pydevd  # noqa: F401

    debugpy.configure(python=python_executable())


def install() -> None:
    """Run start() in every worker: now if this is one, else after each fork."""
    import uwsgi

    if uwsgi.worker_id() > 0:
        # lazy-apps (HOT_RELOAD): each worker imports debugpy itself, in the
        # background unless it is needed at once (Worker.follow).
        start()
    else:
        # Imported once here, in the master, rather than in each worker: a
        # worker importing it while busy serving took seconds to join.
        preload()
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
