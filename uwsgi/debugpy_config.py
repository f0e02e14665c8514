"""The debugger's settings and the facts every debugpy_* module reads.

The entrypoint has validated the variables by the time these are read.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from flask_uwsgi_env import Environ, flag, get

# Python 3.11+ warns about frozen modules under a debugger; pydevd's file
# validation is what the warning is about. Set before debugpy is imported, and
# inherited by its adapter process.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# A respawned worker waits this long for its predecessor's port (per-worker),
# a worker this long for the hub (one port); both retry this often.
RETRY_SECONDS = 60.0
RETRY_INTERVAL = 0.5
ONE_PORT = "one"  # the other mode: "per-worker"


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    wait: bool
    mode: str


def settings(environ: Environ) -> Settings:
    """The debugger's settings from the environment."""
    return Settings(
        host=get(environ, "DEBUGPY_HOST"),
        port=int(get(environ, "DEBUGPY_PORT")),
        wait=flag(environ, "DEBUGPY_WAIT"),
        mode=get(environ, "DEBUGPY_PORTS").strip().lower(),
    )


def worker_port(first_port: int, worker_id: int) -> int:
    """Worker 1 gets the first port, worker 2 the next, and so on."""
    return first_port + worker_id - 1


def adapter_program() -> str:
    """What debugpy runs its adapter with (``configure(python=...)``): not
    ``sys.executable``, which under uWSGI is the uWSGI binary, but
    debugpy_adapter.py, installed beside this module (it says why)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "debugpy_adapter.py")


def log(message: str) -> None:
    # One write for the line and its newline (print makes two): the hub and
    # every worker share the container's stderr, and a line of one must not
    # land inside a line of another.
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
