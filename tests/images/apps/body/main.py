"""Reports the request body it got, and every request target that reached it."""

import hashlib
import os

from flask import Flask, request

SEEN = "/tmp/seen"  # one request target per line (as sent): what reached the app

app = Flask(__name__)


@app.before_request
def record() -> None:
    with open(SEEN, "a", encoding="utf-8", errors="backslashreplace") as seen:
        seen.write(request.environ.get("REQUEST_URI", "") + "\n")


@app.post("/echo")
def echo() -> dict[str, object]:
    body = request.get_data()
    return {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": request.environ.get("CONTENT_LENGTH"),
        "transfer_encoding": request.environ.get("HTTP_TRANSFER_ENCODING"),
    }


@app.get("/seen")
def seen() -> dict[str, list[str]]:
    with open(SEEN, encoding="utf-8") as lines:
        return {"targets": lines.read().split("\n")[:-1]}


@app.get("/")
def index() -> str:
    return f"pid {os.getpid()}\n"


@app.route("/<path:anything>", methods=["GET", "POST", "OPTIONS"])
def anything(anything: str) -> str:
    return "ok\n"
