"""LOG_FORMAT=json: run a command and write everything it prints as JSON lines.

    python3 log_relay.py COMMAND [ARG...]

The entrypoint runs itself under this relay (then uWSGI, or supervisord in
dev), so every line the container writes passes here: the entrypoint's,
uWSGI's master, router and workers', the request log, the app's, and
supervisord's. uWSGI's own ``log-encoder json`` would not do: it escapes
quotes and backslashes but passes other control bytes and bytes that are not
UTF-8 through, and its request log variables are not escaped at all.

Each line becomes one JSON object with ``time``, ``level``, ``source`` and
``message``: a line that already is one (log_json.py in the workers) is
passed on as it is; a request log line (log-json.ini's ``logformat``) gets
its fields; anything else becomes the message, bytes that are not UTF-8 as
``\\xNN``. Signals are passed on to the command, and the relay exits with
its status once its output has ended (or a second after it exited, if a
process it left behind still holds the output open).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from typing import Any

from log_json import record

# log-json.ini's logformat: status, size, microseconds, request id (empty
# when the app never ran), method, URI (last: it is the one that may hold
# anything but a space or a line end).
REQUEST = re.compile(r"flask-uwsgi-request (\d+) (\d+) (\d+) (\S*) (\S+) (.*)")
# supervisord's own lines: "2026-12-05 10:00:00,123 INFO spawned: 'uwsgi' ..."
SUPERVISORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (CRIT|ERRO|WARN|INFO|DEBG) (.*)")
SUPERVISORD_LEVELS = {"CRIT": "critical", "ERRO": "error", "WARN": "warning", "INFO": "info", "DEBG": "debug"}
ENTRYPOINT = re.compile(r"flask-uwsgi: (?:(error|warning): )?(.*)")
ERROR = re.compile(r"error|exception|traceback|harakiri|\bDAMN\b|segmentation fault", re.IGNORECASE)
WARNING = re.compile(r"!!!|warning", re.IGNORECASE)
KEYS = {"time", "level", "source", "message"}
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
LINGER_SECONDS = 1.0


def encode(raw: bytes) -> str:
    """One line of output as one JSON object (a line of text, no newline)."""
    text = raw.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", "backslashreplace")
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.keys() >= KEYS:
            return json.dumps(parsed)  # ASCII again, whatever the app's encoder did
    if match := REQUEST.fullmatch(text):
        status, size, micros, request_id, method, path = match.groups()
        level = "error" if status >= "500" else "warning" if status >= "400" else "info"
        fields: dict[str, Any] = {"method": method, "path": path, "status": int(status)}
        fields |= {"duration_seconds": int(micros) / 1e6, "size": int(size)}
        if request_id:
            fields["request_id"] = request_id
        return record(level, "request", f"{method} {path} {status}", **fields)
    if match := SUPERVISORD.fullmatch(text):
        return record(SUPERVISORD_LEVELS[match[1]], "supervisord", match[2])
    if match := ENTRYPOINT.fullmatch(text):
        return record(match[1] or "info", "entrypoint", match[2])
    level = "error" if ERROR.search(text) else "warning" if WARNING.search(text) else "info"
    return record(level, "uwsgi", text)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: log_relay.py COMMAND [ARG...]", file=sys.stderr)
        return 64
    env = {**os.environ, "FLASK_UWSGI_LOG_RELAY": str(os.getpid())}
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    for number in FORWARDED:
        signal.signal(number, lambda number, _frame: child.send_signal(number))
    out = sys.stdout.buffer

    def linger() -> None:
        # The command has exited: give its output a moment to end, then go
        # (a daemon it started may still hold the pipe open).
        status = child.wait()
        threading.Event().wait(LINGER_SECONDS)
        out.flush()
        os._exit(128 - status if status < 0 else status)

    threading.Thread(target=linger, daemon=True).start()
    assert child.stdout is not None
    for raw in child.stdout:
        out.write(encode(raw).encode("ascii") + b"\n")
        out.flush()
    status = child.wait()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
