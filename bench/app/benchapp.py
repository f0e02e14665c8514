"""The benchmark's app: an application factory with two views.

/    a small JSON answer: the server's own cost per request dominates
/io  the same after waiting 20 ms, as for a database query: threads matter
"""

from __future__ import annotations

import os
import time

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def cpu() -> dict:
        return {"message": "hello", "pid": os.getpid()}

    @app.get("/io")
    def io() -> dict:
        time.sleep(0.02)
        return {"message": "hello after 20 ms", "pid": os.getpid()}

    return app
