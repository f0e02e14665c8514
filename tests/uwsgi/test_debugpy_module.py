"""The debugpy injector's own logic (uwsgi/uwsgi_debugpy.py), on the host."""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from pathlib import Path

import pytest
import uwsgi_debugpy


def test_settings_defaults() -> None:
    assert uwsgi_debugpy.settings({}) == uwsgi_debugpy.Settings("0.0.0.0", 5678, wait=False, mode="one")


def test_settings_from_environment() -> None:
    env = {"DEBUGPY_HOST": "127.0.0.1", "DEBUGPY_PORT": "6000", "DEBUGPY_WAIT": "Yes", "DEBUGPY_PORTS": "Per-Worker"}
    config = uwsgi_debugpy.settings(env)
    assert (config.host, config.port, config.wait, config.mode) == ("127.0.0.1", 6000, True, "per-worker")


def test_hub_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "hub.json"
    uwsgi_debugpy.write_private(str(path), {"pid": 1, "access_token": "secret"})
    uwsgi_debugpy.write_private(str(path), {"pid": 2, "access_token": "secret"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["pid"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["hub.json"]


def test_read_hub_waits_for_a_live_hub(tmp_path: Path) -> None:
    path = tmp_path / "hub.json"
    assert uwsgi_debugpy.read_hub(str(path), timeout=0.2) is None
    path.write_text(json.dumps({"pid": 2**22 + 1}))  # above pid_max: not alive
    assert uwsgi_debugpy.read_hub(str(path), timeout=0.2) is None
    path.write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    assert uwsgi_debugpy.read_hub(str(path), timeout=0.2) == {"pid": os.getpid(), "port": 1}


@pytest.mark.parametrize(("worker", "port"), [(1, 5678), (2, 5679), (8, 5685)])
def test_worker_ports(worker: int, port: int) -> None:
    assert uwsgi_debugpy.worker_port(5678, worker) == port


def test_python_executable_is_a_real_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / "python3"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert uwsgi_debugpy.python_executable() == str(python)


@pytest.mark.parametrize(
    ("exc", "in_use"),
    [
        (OSError(errno.EADDRINUSE, "Address already in use"), True),
        (RuntimeError("Can't listen for client connections: [Errno 98] Address already in use"), True),
        (RuntimeError("debugpy.listen() has already been called on this process"), False),
        (OSError(errno.EACCES, "Permission denied"), False),
    ],
)
def test_address_in_use(exc: BaseException, in_use: bool) -> None:
    assert uwsgi_debugpy._address_in_use(exc) is in_use


def test_listen_retries_while_the_port_is_taken(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    attempts: list[tuple[str, int]] = []

    class FakeDebugpy:
        @staticmethod
        def configure(**kwargs: object) -> None:
            assert "python" in kwargs

        @staticmethod
        def listen(address: tuple[str, int]) -> None:
            attempts.append(address)
            if len(attempts) < 3:
                raise RuntimeError("[Errno 98] Address already in use")

    monkeypatch.setitem(sys.modules, "debugpy", FakeDebugpy)
    monkeypatch.setattr(uwsgi_debugpy, "RETRY_INTERVAL", 0.01)
    monkeypatch.setattr(uwsgi_debugpy, "port_in_use", lambda host, port: False)
    assert uwsgi_debugpy.listen("0.0.0.0", 5679, 2, retry_seconds=5)
    assert attempts == [("0.0.0.0", 5679)] * 3
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "debugpy: port 5679 still in use, retrying (worker 2)",
        "debugpy listening on 0.0.0.0:5679 (worker 2)",
    ]


def test_listen_gives_up_after_the_deadline(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    class FakeDebugpy:
        configure = staticmethod(lambda **kwargs: None)

        @staticmethod
        def listen(address: tuple[str, int]) -> None:
            raise RuntimeError("[Errno 98] Address already in use")

    monkeypatch.setitem(sys.modules, "debugpy", FakeDebugpy)
    monkeypatch.setattr(uwsgi_debugpy, "RETRY_INTERVAL", 0.01)
    assert not uwsgi_debugpy.listen("0.0.0.0", 5678, 1, retry_seconds=0.05)
    assert "debugpy: cannot listen on 0.0.0.0:5678 (worker 1): still in use after 0 s" in capsys.readouterr().err


def test_listen_probes_the_port_before_starting_an_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    probes = iter([True, True, False])

    class FakeDebugpy:
        configure = staticmethod(lambda **kwargs: None)
        listen = staticmethod(calls.append)

    monkeypatch.setitem(sys.modules, "debugpy", FakeDebugpy)
    monkeypatch.setattr(uwsgi_debugpy, "RETRY_INTERVAL", 0.01)
    monkeypatch.setattr(uwsgi_debugpy, "port_in_use", lambda host, port: next(probes))
    assert uwsgi_debugpy.listen("0.0.0.0", 5678, 1, retry_seconds=5)
    assert calls == [("0.0.0.0", 5678)]  # one adapter, once the port was free


def test_port_in_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert uwsgi_debugpy.port_in_use("127.0.0.1", port)
    assert not uwsgi_debugpy.port_in_use("127.0.0.1", port)
