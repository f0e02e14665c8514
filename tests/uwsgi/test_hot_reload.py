"""HOT_RELOAD's file watcher (uwsgi/uwsgi_hot_reload.py) and the loader's
error page, on the host."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import uwsgi_app_loader as loader
import uwsgi_hot_reload

from tests.support.containers import holds, wait_for


def touch_later(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


@pytest.fixture
def module_under(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "views.py"
    source.write_text("x = 1\n")
    module = types.ModuleType("flask_uwsgi_test_views")
    module.__file__ = str(source)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return source


def test_watcher_sees_a_change_to_a_loaded_module_under_the_root(module_under: Path) -> None:
    watcher = uwsgi_hot_reload.Watcher(str(module_under.parent))
    assert str(module_under) in watcher.seen
    assert not any(path.startswith(sys.prefix) for path in watcher.seen)  # only the app's own files
    assert watcher.changed() is None
    touch_later(module_under)
    assert watcher.changed() == str(module_under)


def test_watcher_counts_from_when_it_was_made(module_under: Path) -> None:
    # A save between the import and the first look must not be missed.
    watcher = uwsgi_hot_reload.Watcher(str(module_under.parent))
    touch_later(module_under)
    assert watcher.changed() == str(module_under)


def test_watcher_sees_extra_files_appear_and_go(tmp_path: Path) -> None:
    missing = tmp_path / "later.py"
    watcher = uwsgi_hot_reload.Watcher(str(tmp_path / "elsewhere"), [str(missing)])
    assert watcher.changed() is None
    missing.write_text("")
    assert watcher.changed() == str(missing)


def test_files_to_watch_after_a_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text("from . import views\n")
    (tmp_path / "brokenpkg" / "views.py").write_text("def f(:\n")
    with pytest.raises(loader.AppModuleError) as error:
        loader.load("brokenpkg:app")
    for name in [n for n in sys.modules if n.startswith("brokenpkg")]:
        del sys.modules[name]
    watched = loader.files_to_watch(error.value.__cause__, str(tmp_path))
    package = tmp_path / "brokenpkg"
    assert watched == [str(package / "__init__.py"), str(package / "views.py"), str(tmp_path)]


def test_error_app_answers_500_with_the_error() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        error = loader.AppModuleError("importing 'main' failed: ValueError: boom", show_traceback=True)
        error.__cause__ = exc
    statuses = []
    app = loader.error_app("flask-uwsgi: error: APP_MODULE=main:app: ...", error)
    body = b"".join(app({}, lambda *args: statuses.append(args)))
    assert statuses[0][0] == "500 Internal Server Error"
    assert body.startswith(b"flask-uwsgi: error: APP_MODULE=main:app")
    assert b"ValueError: boom" in body


@pytest.mark.parametrize(("value", "on"), [("1", True), ("on", True), ("", False), ("0", False)])
def test_hot_reload_setting(value: str, on: bool) -> None:
    assert loader.hot_reload({"HOT_RELOAD": value}) is on


def test_inotify_wakes_on_a_save_and_not_otherwise(tmp_path: Path) -> None:
    events = uwsgi_hot_reload.Inotify()
    events.watch([str(tmp_path)])
    assert events.wait(0.05) is False
    (tmp_path / "main.py").write_text("x = 1\n")
    started = time.monotonic()
    assert events.wait(5) is True
    assert time.monotonic() - started < 1
    # An editor's atomic save: written aside, renamed into place.
    (tmp_path / ".main.py.swp").write_text("x = 2\n")
    (tmp_path / ".main.py.swp").rename(tmp_path / "main.py")
    assert events.wait(5) is True
    assert events.wait(0.05) is False  # everything was read


def test_watcher_counts_a_save_during_the_import_as_a_change(module_under: Path) -> None:
    # Saved after the import began: what was imported may predate the save.
    started_ns = time.time_ns() - 1_000_000_000
    assert uwsgi_hot_reload.Watcher(str(module_under.parent), since_ns=started_ns).changed() == str(module_under)
    # Saved before: nothing to reload.
    assert uwsgi_hot_reload.Watcher(str(module_under.parent), since_ns=time.time_ns()).changed() is None


def test_watcher_ignores_a_future_mtime(module_under: Path) -> None:
    # Another machine's clock ahead (some mounts): counted as a change, every
    # new worker would reload again, forever.
    future = time.time() + 3600
    os.utime(module_under, (future, future))
    watcher = uwsgi_hot_reload.Watcher(str(module_under.parent), since_ns=time.time_ns() - 1_000_000_000)
    assert watcher.changed() is None


def test_reload_worker_signals_only_once_the_handler_is_replaced() -> None:
    # In a worker: sent while the master's handler is still in place (during
    # the import), SIGHUP would reload the whole instance.
    received: list[int] = []
    previous = signal.getsignal(signal.SIGHUP)
    loading = uwsgi_hot_reload.sighup_handler()
    thread = threading.Thread(target=uwsgi_hot_reload.reload_worker, args=(threading.get_ident(), loading))
    try:
        thread.start()
        assert holds(thread.is_alive, 0.3)
        signal.signal(signal.SIGHUP, lambda signum, frame: received.append(signum))  # uWSGI's, in a worker
        assert uwsgi_hot_reload.sighup_handler() != loading
        thread.join(5)
        wait_for(lambda: received, 5, "SIGHUP in the main thread")
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert received == [signal.SIGHUP]
