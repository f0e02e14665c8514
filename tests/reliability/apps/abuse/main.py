"""Answers for the hostile-client tests: a small one, a big one, an upload."""

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
    return {"received": len(request.get_data())}
