"""The debugpy injector's own logic (uwsgi/uwsgi_debugpy.py), on the host."""

from __future__ import annotations

import errno
import os
import queue
import socket
import sys
import threading
from pathlib import Path

import pytest
import uwsgi_debugpy


def test_settings_defaults() -> None:
    assert uwsgi_debugpy.settings({}) == uwsgi_debugpy.Settings("0.0.0.0", 5678, wait=False, mode="one")


def test_settings_from_environment() -> None:
    env = {"DEBUGPY_HOST": "127.0.0.1", "DEBUGPY_PORT": "6000", "DEBUGPY_WAIT": "Yes", "DEBUGPY_PORTS": "Per-Worker"}
    config = uwsgi_debugpy.settings(env)
    assert (config.host, config.port, config.wait, config.mode) == ("127.0.0.1", 6000, True, "per-worker")


def test_hub_tells_each_worker_the_state_now_and_every_change(tmp_path: Path) -> None:
    path = str(tmp_path / "hub.sock")
    channel = uwsgi_debugpy.HubChannel(path)
    assert os.stat(path).st_mode & 0o777 == 0o600  # it carries the adapter's token
    seen: queue.Queue[dict] = queue.Queue()
    stop = threading.Event()
    follower = threading.Thread(target=uwsgi_debugpy.follow_hub, args=(path, seen.put), kwargs={"stop": stop})
    follower.start()
    assert seen.get(timeout=5) == {"attached": False}
    channel.publish({"attached": True, "port": 1})
    assert seen.get(timeout=5) == {"attached": True, "port": 1}
    # A worker connecting later hears the current state at once.
    late: queue.Queue[dict] = queue.Queue()
    threading.Thread(target=uwsgi_debugpy.follow_hub, args=(path, late.put), kwargs={"stop": stop}, daemon=True).start()
    assert late.get(timeout=5) == {"attached": True, "port": 1}
    channel.publish({"attached": False})
    assert seen.get(timeout=5) == {"attached": False}
    # The hub gone: each worker hears that it is no longer attached.
    stop.set()
    channel.server.close()
    for conn in channel.workers:
        conn.close()
    assert seen.get(timeout=5) == {"attached": False, "hub": "gone"}
    follower.join(5)


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
