"""HOT_RELOAD: reload uWSGI's workers gracefully when the app's Python files change.

uWSGI's own py-autoreload takes its first look at the files a second after a
worker starts, so a save within that second (right after the previous
reload, say) is missed. Here each worker keeps the modification times of the
files it imported, and any of them saved since its import began counts as a
change. Each worker waits for inotify events on the folders of those files,
and compares the mtimes when one comes (a finished write, a rename into
place, a new or deleted file) and in any case every half second: some mounts
deliver no events. The app is imported in each worker (the entrypoint turns
on lazy-apps with HOT_RELOAD).

On a change a worker reloads itself: it sends SIGHUP to its own main thread,
uWSGI's graceful reload of one worker (it finishes the requests in flight and
exits; the master starts a new one, which imports the app anew). Every
worker sees the same save, so they all reload at once. The master, the HTTP
router and the debug hub stay: requests that arrive meanwhile wait, and a
debug session carries on. (A reload of the whole instance, uwsgi.reload(),
re-executes the master and restarts the router, which drops the connections
it holds.)

Why not ask the master (``w`` on its FIFO) to reload every worker: it signals
them all at once, including one that is still importing the app after the
previous reload. Until that import is done, a uWSGI 2.0 worker still has the
master's SIGHUP handler (core/uwsgi.c: uwsgi_worker_run() installs the
worker's own after the lazy import), so the signal makes the worker run the
master's "reload everything": the HTTP router is restarted, and that worker
is never replaced, serving the old code. A worker that signals only itself,
and only once uWSGI's worker handler is in place, avoids both.

The files are those of the modules loaded from the app's directory, plus any
given by the loader (those of an app that failed to import).
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
    """Remembers mtimes; ``changed()`` names a file that differs, if any.

    ``since_ns``: when the import began. A file saved after that may have been
    read before the save: it counts as changed at once. Not one dated in the
    future (another machine's clock, on some mounts): that would reload forever.
    """

    def __init__(self, root: str, extra: Iterable[str] = (), since_ns: int | None = None) -> None:
        self.root = root
        self.seen: dict[str, int | None] = {}
        self.add(module_files(root) | set(extra))
        if since_ns is not None:
            now = time.time_ns()
            for path, seen in self.seen.items():
                if seen is not None and since_ns < seen <= now:
                    self.seen[path] = -1  # no file's mtime

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


LIBC = ctypes.CDLL(None, use_errno=True)


class Inotify:
    """Linux inotify through libc: wait until something happens in some folders."""

    def __init__(self) -> None:
        self.fd = LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.folders: set[str] = set()

    def watch(self, folders: Iterable[str]) -> None:
        for folder in set(folders) - self.folders:
            if LIBC.inotify_add_watch(self.fd, os.fsencode(folder), EVENTS) >= 0:
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


def sighup_handler() -> int:
    """The address of this process's SIGHUP handler (sigaction(2)).

    glibc's struct sigaction begins with it on the platforms the images are
    built for (amd64, arm64); the buffer is larger than the struct.
    """
    action = ctypes.create_string_buffer(512)
    if LIBC.sigaction(signal.SIGHUP, None, action) != 0:
        raise OSError(ctypes.get_errno(), "sigaction")
    return ctypes.c_void_p.from_buffer(action).value or 0


def reload_worker(main_thread: int, loading_handler: int, poll: float = 0.01) -> None:
    """uWSGI's graceful reload of this worker: SIGHUP to its main thread.

    Not before uWSGI has put the worker's own SIGHUP handler in place of
    ``loading_handler``, the master's, which the worker has while it imports
    the app (see the module's docstring).
    """
    while sighup_handler() == loading_handler:
        time.sleep(poll)
    signal.pthread_kill(main_thread, signal.SIGHUP)


def _watch(watcher: Watcher, main_thread: int, loading_handler: int) -> None:
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
                f"flask-uwsgi: {path} changed, reloading worker {uwsgi.worker_id()} (HOT_RELOAD)",
                file=sys.stderr,
                flush=True,
            )
            reload_worker(main_thread, loading_handler)
            return


def install(root: str, extra: Iterable[str] = (), since_ns: int | None = None) -> None:
    """Watch, from this worker, the files imported since ``since_ns``.

    Called by the loader in the worker's main thread, while uWSGI imports the
    app (lazy-apps).
    """
    import uwsgi

    if uwsgi.worker_id() > 0:
        watcher = Watcher(root, extra, since_ns)
        args = (watcher, threading.get_ident(), sighup_handler())
        threading.Thread(target=_watch, args=args, name="hot-reload", daemon=True).start()
