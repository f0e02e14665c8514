"""The smallest flask-uwsgi app: APP_MODULE=main:app (the default)."""

import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    greeting = f"Hello from flask-uwsgi, worker pid {os.getpid()}"
    return {"message": greeting}
