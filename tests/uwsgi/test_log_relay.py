"""LOG_FORMAT=json's relay (uwsgi/log_relay.py): each kind of line it meets, as one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys

import log_relay

from tests.conftest import ROOT


def encoded(raw: bytes) -> dict:
    line = log_relay.encode(raw)
    assert line.isascii() and "\n" not in line
    return json.loads(line)


def test_a_request_line_gets_its_fields() -> None:
    got = encoded(b'flask-uwsgi-request 404 294 682 abc-1 GET /a"b\\c\xff\x01 d\n')
    assert got["source"] == "request" and got["level"] == "warning"
    assert (got["method"], got["path"], got["status"]) == ("GET", '/a"b\\c\\xff\x01 d', 404)
    assert (got["size"], got["duration_seconds"], got["request_id"]) == (294, 0.000682, "abc-1")
    assert "request_id" not in encoded(b"flask-uwsgi-request 500 0 10  POST /x\n")


def test_a_json_object_from_a_worker_is_passed_on() -> None:
    line = json.dumps({"time": "t", "level": "error", "source": "app", "message": "m\u00e9", "exception": "x"})
    assert encoded(line.encode() + b"\n") == json.loads(line)
    # Not one of ours: the message of a line like any other.
    assert encoded(b'{"a": 1}\n')["message"] == '{"a": 1}'


def test_other_lines_by_who_wrote_them() -> None:
    assert encoded(b'flask-uwsgi: error: PORT="x" is not a port number\n')["level"] == "error"
    assert encoded(b"flask-uwsgi: starting supervisord\n")["source"] == "entrypoint"
    supervisord = encoded(b"2026-12-05 10:00:00,123 WARN received SIGTERM indicating exit request\n")
    assert (supervisord["source"], supervisord["level"]) == ("supervisord", "warning")
    assert encoded(b"*** HARAKIRI ON WORKER 1 (pid: 30, try: 1) ***\n")["level"] == "error"
    assert encoded(b"!!! no internal routing support !!!\r\n")["level"] == "warning"
    assert encoded(b"spawned uWSGI worker 1 (pid: 29, cores: 4)\n") | {"time": ""} == {
        "time": "",
        "level": "info",
        "source": "uwsgi",
        "message": "spawned uWSGI worker 1 (pid: 29, cores: 4)",
    }


def test_the_relay_passes_on_the_exit_status_and_every_line() -> None:
    script = "import sys; print('one'); sys.stdout.flush(); sys.stderr.write('two\\xff\\n'); sys.exit(3)"
    result = subprocess.run(
        [sys.executable, str(ROOT / "uwsgi" / "log_relay.py"), sys.executable, "-c", script],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert [json.loads(line)["message"] for line in result.stdout.decode().splitlines()] == ["one", "two\u00ff"]
