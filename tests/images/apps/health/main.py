"""An app with a health view, for the drain tests (HEALTHCHECK_PATH=/healthz)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {"hello": "world"}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
