"""The benchmark's app: an application factory with three views.

/              a small JSON answer: the server's own cost per request dominates
/io            the same after waiting 20 ms, as for a database query: threads matter
/file/<mib>    a file of 1 or 8 MiB (Flask's send_file: the server's wsgi.file_wrapper)
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from flask import Flask, abort, send_file


def create_app() -> Flask:
    app = Flask(__name__)
    files: dict[int, str] = {}
    lock = threading.Lock()

    def file_of(mib: int) -> str:
        # Written on first use, so other workloads' memory has no page cache of it.
        with lock:
            if mib not in files:
                fd, path = tempfile.mkstemp(prefix=f"bench-{mib}mib-")
                with os.fdopen(fd, "wb") as out:
                    out.write(os.urandom(mib * 2**20))
                files[mib] = path
            return files[mib]

    @app.get("/")
    def cpu() -> dict:
        return {"message": "hello", "pid": os.getpid()}

    @app.get("/io")
    def io() -> dict:
        time.sleep(0.02)
        return {"message": "hello after 20 ms", "pid": os.getpid()}

    @app.get("/file/<int:mib>")
    def file(mib: int):
        if mib not in (1, 8):
            abort(404)
        return send_file(file_of(mib), mimetype="application/octet-stream")

    return app
