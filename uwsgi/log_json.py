"""LOG_FORMAT=json, in the worker: the app's own output as JSON lines.

Every line the container writes passes through log_relay.py, which encodes
what is not JSON yet. What a worker can say better itself, it says as one
JSON object per line, before the relay sees it:

- the app's ``logging`` records (a handler on the root logger, unless the
  app set one up), a traceback inside its record, not one line per frame;
- an exception that reaches uWSGI (``sys.excepthook``, which uWSGI's
  ``PyErr_Print`` calls), and one in a thread;
- each request's id: the client's ``X-Request-ID`` when it is a sane token,
  else a new one; the app sees it as ``HTTP_X_REQUEST_ID`` and uWSGI's
  request log line carries it (``uwsgi.set_logvar``).

Each object has ``time`` (UTC, ISO 8601), ``level``, ``source`` and
``message``; log_relay.py gives the same keys to everything else.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

# A client's X-Request-ID is kept when it looks like an id: no spaces, no
# quotes, not huge (it goes into every log line of the request).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def record(level: str, source: str, message: str, **fields: Any) -> str:
    """One log object as a line of JSON (ASCII: any byte survives any shipper)."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"time": now, "level": level, "source": source, "message": message, **fields})


class Formatter(logging.Formatter):
    """A ``logging`` record as one JSON object."""

    def format(self, rec: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"logger": rec.name}
        if rec.exc_info:
            fields["exception"] = "".join(traceback.format_exception(*rec.exc_info)).rstrip()
        return record(rec.levelname.lower(), "app", rec.getMessage(), **fields)


def _excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    text = "".join(traceback.format_exception(kind, value, tb)).rstrip()
    sys.stderr.write(record("error", "app", f"{kind.__name__}: {value}", exception=text) + "\n")
    sys.stderr.flush()


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    _excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def install() -> None:
    """Before the app is imported: its logging, and uncaught exceptions, as JSON."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(Formatter())
        root.addHandler(handler)
    logging.captureWarnings(True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def with_request_id(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app``, each request given an id (see the module's docstring)."""
    import uwsgi  # uWSGI's embedded module: only in a worker

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        environ["HTTP_X_REQUEST_ID"] = request_id
        uwsgi.set_logvar("request_id", request_id)
        return app(environ, start_response)

    return application
