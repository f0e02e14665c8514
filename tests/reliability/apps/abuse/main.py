"""Answers for the hostile-client tests: a small one, a big one, a file, an upload."""

import os
import sys
import tempfile

from flask import Flask, request, send_file

app = Flask(__name__)
# 8 MiB on disk, for the file view.
FILE = os.path.join(tempfile.gettempdir(), "abuse-file")
with open(FILE, "wb") as out:
    out.write(b"x" * 8 * 1024 * 1024)


@app.get("/")
def index():
    return {"hello": "world"}


@app.get("/big")
def big():
    return b"x" * (int(request.args.get("mb", "20")) * 1024 * 1024)


@app.get("/file")
def file():
    # Flask passes the open file to the server (wsgi.file_wrapper).
    return send_file(FILE, mimetype="application/octet-stream")


@app.post("/upload")
def upload():
    print("the upload view ran", file=sys.stderr, flush=True)
    return {"received": len(request.get_data())}
