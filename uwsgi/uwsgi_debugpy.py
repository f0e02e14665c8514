"""Start debugpy inside every uWSGI worker, where requests are handled.

Loaded through uWSGI's ``import`` option (the dev image's debug.ini), in the
master; it knows nothing about the app or its framework. Two ways to reach
the workers, chosen by DEBUGPY_PORTS:

``one`` (default): one attach covers every worker. A hub process owns the
    debug port (debugpy_hub.py); workers join its session while a debugger
    is attached (debugpy_worker.py).
``per-worker``: worker N listens on DEBUGPY_PORT + N - 1; attach to each
    (debugpy_worker_port.py).

With DEBUGPY_WAIT on, a worker waits for its debugger before it takes requests.
In debug mode the app's responses are iterated in Python (debugpy_response.py
says why). What is not debugpy's public API sits in debugpy_internals_worker.py
(joining and leaving a session) and debugpy_internals_adapter.py (the adapter).

Why each step is here:
- never in the master: the attach would see a process that serves nothing,
  and workers forked from a traced master hang on shutdown; the master only
  imports debugpy, once, so that workers need not (it starts no thread and
  traces nothing);
- after fork (``uwsgidecorators.postfork``), or straight away when already
  imported in a worker (lazy-apps imports apps after the fork hooks ran).
"""

from __future__ import annotations

import os
import sys

import debugpy_internals_adapter as internals
import debugpy_worker
import debugpy_worker_port
from debugpy_config import ONE_PORT, log, settings
from debugpy_response import debuggable

__all__ = ["debuggable", "install", "start"]


def start() -> None:
    """Start debugpy in this process if it is a uWSGI worker."""
    import uwsgi

    worker_id = uwsgi.worker_id()
    if worker_id <= 0:  # the master, a mule or a spooler
        return
    config = settings(os.environ)
    mode = debugpy_worker if config.mode == ONE_PORT else debugpy_worker_port
    mode.start(config, worker_id)


def install() -> None:
    """Run start() in every worker: now if this is one, else after each fork."""
    import uwsgi

    mismatch = internals.version_mismatch()
    if mismatch:
        log(mismatch)
    if uwsgi.worker_id() > 0:
        # lazy-apps (HOT_RELOAD): each worker imports debugpy itself, in the
        # background unless it is needed at once (Worker.follow).
        start()
        return
    # Imported once here, in the master, rather than in each worker: a
    # worker importing it while busy serving took seconds to join.
    debugpy_worker.preload()
    from uwsgidecorators import postfork

    postfork(start)


# Only inside uWSGI, which puts its embedded `uwsgi` module in sys.modules
# before importing anything; tests import this module for its functions.
if hasattr(sys.modules.get("uwsgi"), "worker_id"):
    install()
