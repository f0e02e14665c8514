"""LOG_FORMAT=json: every line a container writes, start to stop, is one JSON
object, after the requests real clients and attackers send."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.containers import APPS, Running, http_get, wait_for

Run = Callable[..., Running]
LOGS_APP = APPS / "logs"
JSON_LOGS = {"LOG_FORMAT": "json", "ACCESS_LOG": "1"}


def objects(app: Running) -> list[dict[str, Any]]:
    """The container's whole output, stdout and stderr, each line parsed."""
    lines = app.container.logs(stdout=True, stderr=True).decode("utf-8").splitlines()
    parsed = []
    for line in lines:
        value = json.loads(line)  # fails the test on the first line that is not JSON
        assert isinstance(value, dict) and {"time", "level", "source", "message"} <= value.keys(), line
        parsed.append(value)
    return parsed


HOSTILE = [
    b'GET /q"uote\\back?x="1"&y=\\\\ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    b"GET /new%0Aline%0D%22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /bytes\xff\xfe\xc3( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /control\x01\x1b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b'GET /headers HTTP/1.1\r\nHost: "h\\ost\r\nUser-Agent: "evil\\agent\xff\r\nReferer: \\"\r\n'
    b'X-Request-ID: "quoted id"\r\nConnection: close\r\n\r\n',
    b"GET /big-header HTTP/1.1\r\nHost: x\r\nX-Big: " + b'a\\"' * 10240 + b"\r\nConnection: close\r\n\r\n",
]


@pytest.mark.parametrize("mode", ["nginx", "router", "direct"])
def test_every_line_is_one_json_object(run: Run, mode: str) -> None:
    app = run(app=LOGS_APP, env={**JSON_LOGS, "HTTP_MODE": mode})
    app.wait_http()
    for request in HOSTILE:
        app.raw(request)
    assert http_get(app.url("/log"))[0] == 200
    app.raw(b"GET /raise HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # uWSGI closes it
    wait_for(lambda: "uncaught, for uWSGI to report" in app.logs(), 10, "the uncaught exception logged")
    app.container.stop(timeout=10)
    logs = objects(app)
    sources = {entry["source"] for entry in logs}
    assert {"entrypoint", "uwsgi", "request", "app"} <= sources, sources
    assert logs[-1]["message"].startswith("VACUUM") or any(e["message"] == "goodbye to uWSGI." for e in logs)
    requests = [entry for entry in logs if entry["source"] == "request"]
    paths = {entry["path"] for entry in requests}
    assert '/q"uote\\back?x="1"&y=\\\\' in paths and "/new%0Aline%0D%22" in paths
    assert "/bytes\\xff\\xfe\\xc3(" in paths  # bytes that are not UTF-8, as \xNN
    for entry in requests:
        assert entry["method"] == "GET" and isinstance(entry["status"], int) and entry["size"] >= 0
        assert 0 <= entry["duration_seconds"] < 10 and re.fullmatch(r"[0-9a-f]{32}|[\w.:@/+=-]+", entry["request_id"])
    # The app's logging: one object per record, the traceback inside it.
    quoted = next(entry for entry in logs if entry["source"] == "app" and "quoted" in entry["message"])
    assert quoted["message"] == 'a "quoted" \\ message\non two lines' and quoted["level"] == "warning"
    caught = next(entry for entry in logs if entry["message"] == "caught")
    assert caught["level"] == "error" and caught["exception"].startswith("Traceback (most recent call last):")
    uncaught = next(entry for entry in logs if "uncaught, for uWSGI to report" in entry["message"])
    assert uncaught["level"] == "error" and "RuntimeError" in uncaught["exception"]
    assert not any(entry["message"].startswith("Traceback") for entry in logs)  # no traceback line by line
    printed = next(entry for entry in logs if "a printed line" in entry["message"])
    assert printed["message"] == "a printed line with a \x1b control byte"


def test_a_request_id_is_kept_or_given_and_passed_to_the_app(run: Run) -> None:
    app = run(app=LOGS_APP, env=JSON_LOGS)
    app.wait_http()
    assert http_get(app.url("/"), headers={"X-Request-ID": "req-42.a"}) == (200, "req-42.a")
    status, given = http_get(app.url("/"))
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", given)
    status, replaced = http_get(app.url("/"), headers={"X-Request-ID": "not an id"})
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", replaced)
    wait_for(lambda: replaced in app.logs(), 10, "the request's log line")
    ids = [entry.get("request_id") for entry in objects(app) if entry["source"] == "request"]
    assert {"req-42.a", given, replaced} <= set(ids)


def test_dev_image_with_the_debugger_writes_json_lines_too(run: Run) -> None:
    app = run("dev", app=LOGS_APP, env={"LOG_FORMAT": "json", "DEBUGPY_ENABLE": "1"})
    app.wait_http()
    assert http_get(app.url("/log"))[0] == 200
    wait_for(lambda: "a printed line" in app.logs(), 10, "the app's lines")
    app.container.stop(timeout=10)
    assert app.container.wait(timeout=10)["StatusCode"] == 0
    logs = objects(app)
    assert {"entrypoint", "supervisord", "uwsgi", "request", "app"} <= {entry["source"] for entry in logs}


def test_plain_stays_as_it_is(run: Run) -> None:
    app = run(app=LOGS_APP, env={"ACCESS_LOG": "1"})
    app.wait_http()
    assert http_get(app.url("/log"))[0] == 200
    wait_for(lambda: "GET /log =>" in app.logs(), 10, "uWSGI's own request line")
    assert not app.logs().lstrip().startswith("{")
