"""The debugger tests' app: one view per kind of WSGI response, and views to step through and break in."""

import io
import os
import time

from flask import Flask, Response, request, send_file, stream_with_context

app = Flask(__name__)


class Closing:
    """A response iterable with a close(), as WSGI middleware returns them."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        return next(self.chunks)

    def close(self):
        self.closed = True


@app.get("/")
def index():
    name = request.args.get("name", "world")
    greeting = f"Hello {name}, worker pid {os.getpid()}"
    return {"message": greeting}


@app.get("/stream")
def stream():
    def chunks():
        for n in range(3):
            yield f"chunk {n}\n"

    return Response(chunks(), mimetype="text/plain")


@app.get("/stream-context")
def stream_context():
    def chunks():
        yield f"path {request.path}\n"
        yield "done\n"

    return Response(stream_with_context(chunks()), mimetype="text/plain")


@app.get("/file")
def file():
    return send_file(__file__, mimetype="text/plain")


@app.get("/bytes-file")
def bytes_file():
    return send_file(io.BytesIO(b"in memory\n"), mimetype="text/plain")


@app.get("/closing")
def closing():
    return Response(Closing([b"one\n", b"two\n"]), mimetype="text/plain")


@app.get("/etag")
def etag():
    response = Response("tagged\n", mimetype="text/plain")
    response.set_etag("v1")
    return response.make_conditional(request)


def double(value):
    doubled = value * 2
    return doubled


@app.get("/steps")
def steps():
    first = 1
    second = double(first)
    total = first + second
    return {"total": total}


@app.get("/count/<int:n>")
def count(n):
    result = n + 1
    return {"result": result}


@app.get("/raise")
def raising():
    raise ValueError("raised in a view")


@app.get("/caught")
def caught():
    try:
        number = int("not a number")
    except ValueError:
        number = None
    return {"caught": number is None}


@app.get("/stream-raise")
def stream_raise():
    def chunks():
        yield "first\n"
        raise RuntimeError("raised while streaming")

    return Response(chunks(), mimetype="text/plain")


@app.get("/drip")
def drip():
    def chunks():
        for n in range(50):
            yield f"drop {n}\n" + " " * 65536  # past the socket buffers: a write the client must read
            time.sleep(0.1)

    return Response(chunks(), mimetype="text/plain")
