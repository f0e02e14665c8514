"""HOT_RELOAD: reload uWSGI gracefully when the app's Python files change.

uWSGI's own py-autoreload takes its first look at the files a second after a
worker starts, so a save within that second (right after the previous
reload, say) is missed. Here the reference mtimes are read when the app is
imported, before any request, and worker 1 compares them twice a second;
on a change it asks the master for a graceful reload (``uwsgi.reload()``):
requests in flight finish, the master re-executes itself and imports the new
code. The files are those of the modules loaded from the app's directory,
plus any given by the loader (those of an app that failed to import).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable

INTERVAL = 0.5


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


def _watch(watcher: Watcher) -> None:
    import uwsgi

    while True:
        time.sleep(INTERVAL)
        path = watcher.changed()
        if path is not None:
            print(f"flask-uwsgi: {path} changed, reloading (HOT_RELOAD)", file=sys.stderr, flush=True)
            uwsgi.reload()
            return


def install(root: str, extra: Iterable[str] = ()) -> None:
    """Take the reference mtimes now; watch from worker 1, after each fork."""
    import uwsgi

    watcher = Watcher(root, extra)

    def start() -> None:
        if uwsgi.worker_id() == 1:
            threading.Thread(target=_watch, args=(watcher,), name="hot-reload", daemon=True).start()

    if uwsgi.worker_id() > 0:  # lazy-apps: the app is imported in each worker
        start()
    else:
        from uwsgidecorators import postfork

        postfork(start)
