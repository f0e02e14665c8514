"""A worker on its own debug port (uwsgi/debugpy_worker_port.py): its listen, on the host."""

from __future__ import annotations

import errno
import socket
import sys

import debugpy_worker_port
import pytest


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
    assert debugpy_worker_port._address_in_use(exc) is in_use


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
    monkeypatch.setattr(debugpy_worker_port, "RETRY_INTERVAL", 0.01)
    monkeypatch.setattr(debugpy_worker_port, "port_in_use", lambda host, port: False)
    assert debugpy_worker_port.listen("0.0.0.0", 5679, 2, retry_seconds=5)
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
    monkeypatch.setattr(debugpy_worker_port, "RETRY_INTERVAL", 0.01)
    assert not debugpy_worker_port.listen("0.0.0.0", 5678, 1, retry_seconds=0.05)
    assert "debugpy: cannot listen on 0.0.0.0:5678 (worker 1): still in use after 0 s" in capsys.readouterr().err


def test_listen_probes_the_port_before_starting_an_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []
    probes = iter([True, True, False])

    class FakeDebugpy:
        configure = staticmethod(lambda **kwargs: None)
        listen = staticmethod(calls.append)

    monkeypatch.setitem(sys.modules, "debugpy", FakeDebugpy)
    monkeypatch.setattr(debugpy_worker_port, "RETRY_INTERVAL", 0.01)
    monkeypatch.setattr(debugpy_worker_port, "port_in_use", lambda host, port: next(probes))
    assert debugpy_worker_port.listen("0.0.0.0", 5678, 1, retry_seconds=5)
    assert calls == [("0.0.0.0", 5678)]  # one adapter, once the port was free


def test_port_in_use() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert debugpy_worker_port.port_in_use("127.0.0.1", port)
    assert not debugpy_worker_port.port_in_use("127.0.0.1", port)
