"""APP_MODULE parsing and loading (uwsgi/uwsgi_app_loader.py), on the host."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import uwsgi_app_loader as loader


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(directory: Path, name: str, source: str) -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


@pytest.mark.parametrize(
    ("spec", "target"),
    [
        ("main:app", loader.Target("main", ("app",))),
        ("main", loader.Target("main")),
        ("pkg.wsgi:app.wsgi_app", loader.Target("pkg.wsgi", ("app", "wsgi_app"))),
        ("pkg:create_app()", loader.Target("pkg", ("create_app",), call=True)),
        (
            'pkg:create_app("prod", debug=False)',
            loader.Target("pkg", ("create_app",), True, ("prod",), {"debug": False}),
        ),
    ],
)
def test_parse(spec: str, target: loader.Target) -> None:
    assert loader.parse(spec) == target


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("my-app:app", "is not 'module:callable'"),
        (":app", "is not 'module:callable'"),
        ("main:app(", "is not a name or a factory call"),
        ("main:1 + 2", "is not a name or a factory call"),
        ("main:make(os.environ)", "factory arguments must be Python literals"),
        ("main:make(**opts)", "factory arguments must be Python literals"),
    ],
)
def test_parse_rejects(spec: str, message: str) -> None:
    with pytest.raises(loader.AppModuleError, match=message.replace("(", r"\(")):
        loader.parse(spec)


def test_load_forms(app_dir: Path) -> None:
    write(
        app_dir,
        "pkg/__init__.py",
        """
        def application(environ, start_response): ...
        def create_app(name="default", debug=True):
            def app(environ, start_response):
                return [name.encode()]
            app.debug = debug
            return app
        """,
    )
    assert loader.load("pkg:application").__name__ == "application"
    assert loader.load("pkg").__name__ == "application"
    made = loader.load('pkg:create_app("prod", debug=False)')
    assert made(None, None) == [b"prod"]
    assert made.debug is False


def test_module_alone_means_application_else_app(app_dir: Path) -> None:
    write(app_dir, "only_app.py", "def app(environ, start_response): ...\n")
    write(
        app_dir,
        "both.py",
        """
        def application(environ, start_response): ...
        def app(environ, start_response): ...
        """,
    )
    assert loader.load("only_app").__name__ == "app"
    assert loader.load("both").__name__ == "application"


@pytest.mark.parametrize(
    ("files", "spec", "message", "traceback"),
    [
        ({}, "nope:app", "no module named 'nope' in", False),
        ({"pkg/__init__.py": ""}, "pkg.nope:app", "no module named 'pkg.nope' in", False),
        ({"main.py": "x = 1\n"}, "main:app", "'main' has no attribute 'app'", False),
        ({"main.py": "x = 1\n"}, "main", "module 'main' has neither application nor app", False),
        ({"main.py": "app = 42\n"}, "main:app", "'main:app' is a int, not a WSGI callable", False),
        ({"main.py": "def broken(:\n"}, "main:app", "SyntaxError: invalid syntax (", True),
        ({"main.py": "import missing_dependency\n"}, "main:app", "ModuleNotFoundError", True),
        ({"main.py": "raise RuntimeError('boom')\n"}, "main:app", "RuntimeError: boom", True),
        (
            {"main.py": "def make():\n    raise ValueError('bad config')\n"},
            "main:make()",
            "calling factory 'main:make' failed: ValueError: bad config",
            True,
        ),
    ],
)
def test_load_errors(app_dir: Path, files: dict[str, str], spec: str, message: str, traceback: bool) -> None:
    for name, source in files.items():
        write(app_dir, name, source)
    with pytest.raises(loader.AppModuleError) as error:
        loader.load(spec)
    assert message in str(error.value)
    assert error.value.show_traceback is traceback


def test_failure_is_one_line_and_exit_22(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exits: list[int] = []

    def fake_exit(status: int) -> None:
        exits.append(status)
        raise SystemExit(status)

    monkeypatch.setattr(loader.os, "_exit", fake_exit)
    monkeypatch.setenv("APP_MODULE", "nope:app")
    with pytest.raises(SystemExit):
        loader._application()
    assert exits == [22]
    err = capsys.readouterr().err
    assert err.splitlines() == [f"flask-uwsgi: error: APP_MODULE=nope:app: no module named 'nope' in {app_dir}"]
