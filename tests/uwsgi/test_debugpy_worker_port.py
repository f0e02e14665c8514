"""A worker on its own debug port (uwsgi/debugpy_worker_port.py): its listen, on the host."""

from __future__ import annotations

import errno
import socket
import sys
import types

import debugpy_worker_port
import pytest
from debugpy_config import Settings


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


def test_a_worker_serves_once_every_workers_port_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[int] = []
    listening = {5678: iter([True, True, True]), 5679: iter([False, False, True])}

    def port_in_use(host: str, port: int) -> bool:
        probed.append(port)
        return next(listening[port])

    monkeypatch.setitem(sys.modules, "uwsgi", types.SimpleNamespace(numproc=2))
    monkeypatch.setattr(debugpy_worker_port, "port_in_use", port_in_use)
    debugpy_worker_port.wait_for_siblings(Settings("0.0.0.0", 5678, wait=False, mode="per-worker"), 1)
    assert probed == [5678, 5679] * 3


def test_a_worker_serves_anyway_after_the_deadline(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "uwsgi", types.SimpleNamespace(numproc=2))
    monkeypatch.setattr(debugpy_worker_port, "port_in_use", lambda host, port: port == 5678)
    monkeypatch.setattr(debugpy_worker_port, "SIBLINGS_SECONDS", 0.05)
    debugpy_worker_port.wait_for_siblings(Settings("0.0.0.0", 5678, wait=False, mode="per-worker"), 1)
    assert capsys.readouterr().err == "debugpy: worker 1 serves before every debug port listens (0 s passed)\n"


def test_a_dropped_worker_connects_again_until_it_can(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    adapter = {"host": "127.0.0.1", "port": 40001}
    joins: list[dict[str, object]] = []

    def join(endpoint: dict[str, object], *, wait: bool) -> None:
        joins.append(endpoint)
        if len(joins) < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        adapter["port"] = 0  # connected: end the test's loop

    monkeypatch.setattr(debugpy_worker_port, "KEEP_SECONDS", 0.01)
    monkeypatch.setattr(debugpy_worker_port, "adapter_endpoint", lambda: adapter)
    monkeypatch.setattr(debugpy_worker_port.internals, "connected", lambda: False)
    monkeypatch.setattr(debugpy_worker_port.internals, "forget_connection", lambda: None)
    monkeypatch.setattr(debugpy_worker_port.internals, "join", join)
    debugpy_worker_port.keep_connected(2)
    assert len(joins) == 3
    assert capsys.readouterr().err.splitlines() == [
        "debugpy: worker 2 lost its debug adapter's connection; connecting again",
        "debugpy: worker 2 cannot connect to its debug adapter yet: ConnectionRefusedError(111, 'Connection refused')",
    ]
