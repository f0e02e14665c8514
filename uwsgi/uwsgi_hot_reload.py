"""HOT_RELOAD: reload uWSGI gracefully when the app's Python files change.

uWSGI's own py-autoreload takes its first look at the files a second after a
worker starts, so a save within that second (right after the previous
reload, say) is missed. Here the reference mtimes are read when the app is
imported, before any request. Each worker waits for inotify events on the
folders of those files, and compares the mtimes when one comes (a finished
write, a rename into place, a new or deleted file) and in any case every
half second: some mounts deliver no events. The app is imported in each
worker (the entrypoint turns on lazy-apps with HOT_RELOAD), and each worker
watches the files it imported itself: a worker that imported a file after it
was saved has nothing to reload. On a change the first worker to see it asks
the master to reload every worker gracefully (``w`` on uWSGI's master FIFO,
which the entrypoint sets up with HOT_RELOAD), unless a reload was asked for
since it started: each worker finishes its requests in flight and exits,
and the master starts a new one, which imports the app anew. The master, the
HTTP router and the debug hub stay: requests that arrive meanwhile wait, and
a debug session carries on. (A reload of the whole
instance, uwsgi.reload(), re-executes the master and restarts the router,
which drops the connections it holds.) The files are those of the modules
loaded from the app's directory, plus any given by the loader (those of an
app that failed to import).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterable

# The mtimes are compared at least this often (the fallback without events).
INTERVAL = 0.5
# After an event, until the folders are quiet this long: an editor's save,
# a git checkout or a sync writes several files.
SETTLE = 0.03
# inotify(7): a file written and closed, moved in or out, created, deleted,
# or touched.
IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x4, 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE = 0x100, 0x200
EVENTS = IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE


def mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def module_files(root: str) -> set[str]:
    """The source files of the loaded modules that live under ``root``."""
    root = os.path.abspath(root) + os.sep
    paths = (getattr(module, "__file__", None) for module in list(sys.modules.values()))
    files = {os.path.abspath(path) for path in paths if isinstance(path, str)}
    return {path for path in files if path.startswith(root)}


class Watcher:
    """Remembers mtimes; ``changed()`` names a file that differs, if any."""

    def __init__(self, root: str, extra: Iterable[str] = ()) -> None:
        self.started = time.time()
        self.root = root
        self.seen: dict[str, int | None] = {}
        self.add(module_files(root) | set(extra))

    def add(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.seen.setdefault(path, mtime(path))

    def changed(self) -> str | None:
        # Modules imported since (a lazy import in a view) count from now on.
        self.add(module_files(self.root))
        for path, before in self.seen.items():
            if mtime(path) != before:
                return path
        return None


class Inotify:
    """Linux inotify through libc: wait until something happens in some folders."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.folders: set[str] = set()

    def watch(self, folders: Iterable[str]) -> None:
        for folder in set(folders) - self.folders:
            if self._libc.inotify_add_watch(self.fd, os.fsencode(folder), EVENTS) >= 0:
                self.folders.add(folder)

    def _drain(self) -> None:
        # The events themselves do not matter: the mtimes say what changed.
        while True:
            try:
                os.read(self.fd, 65536)
            except BlockingIOError:
                return

    def wait(self, timeout: float) -> bool:
        """True once an event came and the folders have been quiet for SETTLE; False after ``timeout``."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return False
        self._drain()
        while select.select([self.fd], [], [], SETTLE)[0]:
            self._drain()
        return True


def _watch(watcher: Watcher) -> None:
    import uwsgi

    # A debugger (pydevd) that stops at a breakpoint suspends every thread it
    # knows of: this one must go on watching, so that a save while paused
    # still reloads. These are pydevd's own marks for its helper threads.
    me = threading.current_thread()
    me.pydev_do_not_trace = me.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    # uWSGI's own signal handlers must run in uWSGI's threads, not here.
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())

    try:
        events: Inotify | None = Inotify()
    except (OSError, AttributeError):  # no inotify: mtimes every INTERVAL
        events = None
    while True:
        if events is None:
            time.sleep(INTERVAL)
        else:
            events.watch(path if os.path.isdir(path) else os.path.dirname(path) for path in watcher.seen)
            events.wait(INTERVAL)
        path = watcher.changed()
        if path is not None:
            print(
                f"flask-uwsgi: {path} changed, reloading the workers (HOT_RELOAD, worker {uwsgi.worker_id()})",
                file=sys.stderr,
                flush=True,
            )
            request_reload(uwsgi.opt["master-fifo"], watcher.started)
            return


def request_reload(fifo: str | bytes, since: float) -> bool:
    """Ask uWSGI's master to reload the workers, unless that was asked after ``since``.

    The FIFO's own mtime records when it was last written to: every worker
    that sees the same save asks once between them.
    """
    with open(fifo, "wb", buffering=0) as master:
        if os.fstat(master.fileno()).st_mtime > since:
            return False
        master.write(b"w")
    return True


def install(root: str, extra: Iterable[str] = ()) -> None:
    """Take the reference mtimes now, and watch them from this worker."""
    import uwsgi

    if uwsgi.worker_id() > 0:  # lazy-apps: the app is imported in each worker
        watcher = Watcher(root, extra)
        threading.Thread(target=_watch, args=(watcher,), name="hot-reload", daemon=True).start()
