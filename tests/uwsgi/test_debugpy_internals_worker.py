"""debugpy_internals_worker.py (joining and leaving a session, in a worker), on the host."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import types

import debugpy_internals_worker
import pytest


class _Debugger:
    def __init__(self, disposed: bool) -> None:
        self.pydb_disposed = disposed


@pytest.fixture
def fake_pydevd(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """pydevd's global debugger, as join() sees it (debugpy is not on the host)."""
    state = types.SimpleNamespace(debugger=None)
    pydevd = types.ModuleType("pydevd")
    pydevd.get_global_debugger = lambda: state.debugger  # type: ignore[attr-defined]
    constants = types.ModuleType("_pydevd_bundle.pydevd_constants")
    constants.set_global_debugger = lambda debugger: setattr(state, "debugger", debugger)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pydevd", pydevd)
    monkeypatch.setitem(sys.modules, "_pydevd_bundle", types.ModuleType("_pydevd_bundle"))
    monkeypatch.setitem(sys.modules, "_pydevd_bundle.pydevd_constants", constants)
    return state


def test_a_debugger_pydevd_failed_to_dispose_of_is_discarded(fake_pydevd: types.SimpleNamespace) -> None:
    fake_pydevd.debugger = _Debugger(disposed=True)
    debugpy_internals_worker._discard_disposed(timeout=0.05)
    assert fake_pydevd.debugger is None


def test_pydevd_is_left_to_finish_disposing(fake_pydevd: types.SimpleNamespace) -> None:
    disposed = fake_pydevd.debugger = _Debugger(disposed=True)
    replaced = _Debugger(disposed=False)
    threading.Timer(0.1, lambda: setattr(fake_pydevd, "debugger", replaced)).start()
    debugpy_internals_worker._discard_disposed(timeout=10)
    assert fake_pydevd.debugger is replaced is not disposed


def test_a_live_debugger_is_kept(fake_pydevd: types.SimpleNamespace) -> None:
    live = fake_pydevd.debugger = _Debugger(disposed=False)
    debugpy_internals_worker._discard_disposed(timeout=0.05)
    assert fake_pydevd.debugger is live


def test_leaving_hangs_up_while_another_thread_reads_the_connection() -> None:
    ours, adapters = socket.socketpair()
    copy = debugpy_internals_worker._duplicate(ours)

    def read() -> None:  # pydevd's reader thread (a recv that starts after the close fails)
        with contextlib.suppress(OSError):
            ours.recv(1)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ours.close()  # what pydevd does
    debugpy_internals_worker._hang_up(copy)
    adapters.settimeout(5)
    assert adapters.recv(1) == b""  # the adapter hears that this process left
    reader.join(5)
    assert not reader.is_alive()
    adapters.close()
