"""Answers for the hostile-client tests: a small one, a big one, an upload."""

import sys

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def index():
    return {"hello": "world"}


@app.get("/big")
def big():
    return b"x" * (int(request.args.get("mb", "20")) * 1024 * 1024)


@app.post("/upload")
def upload():
    print("the upload view ran", file=sys.stderr, flush=True)
    return {"received": len(request.get_data())}
