"""Resolve APP_MODULE to the WSGI callable that uWSGI serves.

uWSGI loads ``uwsgi_app_loader:application``; this module imports the app
named by APP_MODULE (default ``main:app``) and exposes it as ``application``.
Accepted forms, as in other WSGI servers:

    main:app                   attribute ``app`` of module ``main``
    pkg.wsgi:app.wsgi_app      a dotted attribute path
    pkg:create_app()           an application factory, called once
    pkg:create_app("prod", debug=False)   ... with literal arguments
    main                       ``application``, else ``app``

When the app cannot be loaded, the last line of output names APP_MODULE and
the cause, and the process exits with uWSGI's "no app" status (22), so the
container stops instead of serving errors. A traceback comes first only when
the app's own code raised.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VARIABLE = "APP_MODULE"
DEFAULT = "main:app"
DEFAULT_CALLABLES = ("application", "app")
# uWSGI's own exit status for "the app could not be loaded" (UWSGI_FAILED_APP_CODE).
EXIT_NO_APP = 22


class AppModuleError(Exception):
    """APP_MODULE cannot be turned into a WSGI callable."""

    def __init__(self, message: str, *, show_traceback: bool = False) -> None:
        super().__init__(message)
        self.show_traceback = show_traceback


@dataclass(frozen=True)
class Target:
    """A parsed APP_MODULE: what to import, what to look up, whether to call it."""

    module: str
    attributes: tuple[str, ...] = ()
    call: bool = False
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse(spec: str) -> Target:
    """Parse ``module[:expression]``; raise AppModuleError on bad syntax."""
    module, _, expression = spec.strip().partition(":")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise AppModuleError(f"{spec!r} is not 'module:callable' or 'package:factory()'")
    if not expression:
        return Target(module)
    try:
        node = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise AppModuleError(f"{expression!r} is not a name or a factory call") from None
    call = isinstance(node, ast.Call)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if call:
        try:
            args = tuple(ast.literal_eval(arg) for arg in node.args)
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        except ValueError:
            raise AppModuleError("factory arguments must be Python literals") from None
        if len(kwargs) != len(node.keywords):
            raise AppModuleError("factory arguments must be Python literals")
        node = node.func
    attributes: list[str] = []
    while isinstance(node, ast.Attribute):
        attributes.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise AppModuleError(f"{expression!r} is not a name or a factory call")
    attributes.insert(0, node.id)
    return Target(module, tuple(attributes), call, args, kwargs)


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # The app module itself (or its package) is missing: no traceback needed.
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise AppModuleError(f"no module named {exc.name!r} in {os.getcwd()}") from None
        raise AppModuleError(f"importing {name!r} failed: {_describe(exc)}", show_traceback=True) from exc
    except BaseException as exc:  # SyntaxError, or anything the app raised at import
        raise AppModuleError(f"importing {name!r} failed: {_describe(exc)}", show_traceback=True) from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


def load(spec: str) -> Callable[..., Any]:
    """Import and return the WSGI callable named by ``spec``."""
    target = parse(spec)
    obj: Any = _import(target.module)
    names = list(target.attributes)
    if not names:
        found = [n for n in DEFAULT_CALLABLES if hasattr(obj, n)]
        if not found:
            raise AppModuleError(
                f"module {target.module!r} has neither {' nor '.join(DEFAULT_CALLABLES)}; "
                f"name the callable: {target.module}:<name>"
            )
        names = found[:1]
    path = target.module
    for name in names:
        if not hasattr(obj, name):
            raise AppModuleError(f"{path!r} has no attribute {name!r}")
        obj = getattr(obj, name)
        path = f"{path}.{name}" if path != target.module else f"{path}:{name}"
    if target.call:
        try:
            obj = obj(*target.args, **target.kwargs)
        except BaseException as exc:
            raise AppModuleError(f"calling factory {path!r} failed: {_describe(exc)}", show_traceback=True) from exc
    if not callable(obj):
        raise AppModuleError(f"{path!r} is a {type(obj).__name__}, not a WSGI callable")
    return obj


def _fail(spec: str, error: AppModuleError) -> None:
    if error.show_traceback and error.__cause__ is not None:
        traceback.print_exception(error.__cause__, file=sys.stderr)
    print(f"flask-uwsgi: error: {VARIABLE}={spec}: {error}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # uWSGI would add its own lines and, with lazy-apps, respawn the worker;
    # leaving at once makes the error the last line and the exit status 22.
    os._exit(EXIT_NO_APP)


def _application() -> Callable[..., Any]:
    spec = os.environ.get(VARIABLE) or DEFAULT
    try:
        return load(spec)
    except AppModuleError as error:
        _fail(spec, error)
        raise  # unreachable: _fail exits


# Only inside uWSGI, which puts its embedded `uwsgi` module in sys.modules
# before importing anything; tests import this module for its functions.
if hasattr(sys.modules.get("uwsgi"), "worker_id"):
    application = _application()
