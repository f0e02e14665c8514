"""Slow requests that say when they start, for the stop and reliability tests."""

import os
import sys
import time

from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def index():
    return {"pid": os.getpid()}


@app.get("/slow")
def slow():
    seconds = float(request.args.get("seconds", "2"))
    print(f"slow request started in {os.getpid()}", file=sys.stderr, flush=True)
    time.sleep(seconds)
    return {"slept": seconds}
