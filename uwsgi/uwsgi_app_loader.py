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

With HOT_RELOAD on (development), a broken save must not end the container:
the same lines are logged, every request gets a 500 page with the error, and
the files involved are watched so that the next save reloads uWSGI again.

With STOP_DRAIN_SECONDS set, the app is wrapped for the drain on stop: while
the entrypoint's flag file exists, the health path answers 503 and every
answer closes its connection (see ``draining``).

With METRICS_PORT set, each request is counted (metrics_worker.py).

With LOG_FORMAT=json, the app's logging and uncaught exceptions are JSON
lines, and each request has an id (log_json.py).

A request that RFC 9112 says to refuse is refused before the app runs, and
so, with 411, is a chunked body that reaches a worker: behind the router or
in direct mode, not behind nginx, which hands it on whole (request_check.py).

With OpenTelemetry in the app's image and OTEL_* set, every worker sends
traces (otel_traces.py).
"""

from __future__ import annotations

import ast
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import flask_uwsgi_env

VARIABLE = "APP_MODULE"
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


def _report(spec: str, error: AppModuleError) -> str:
    """Log the error (traceback first when the app raised); return the one-line summary."""
    if error.show_traceback and error.__cause__ is not None:
        traceback.print_exception(error.__cause__, file=sys.stderr)
    line = f"flask-uwsgi: error: {VARIABLE}={spec}: {error}"
    print(line, file=sys.stderr, flush=True)
    sys.stdout.flush()
    return line


def _fail(spec: str, error: AppModuleError) -> None:
    _report(spec, error)
    # uWSGI would add its own lines and, with lazy-apps, respawn the worker;
    # leaving at once makes the error the last line and the exit status 22.
    os._exit(EXIT_NO_APP)


def files_to_watch(error: BaseException, root: str) -> list[str]:
    """The files under ``root`` that an import error involves, and ``root`` itself.

    The broken file never made it into sys.modules, so the reloader would not
    look at it. ``root`` is watched too: its mtime changes when a file is
    created or renamed into it (a missing module added, an editor's atomic save).
    """
    root = os.path.abspath(root)
    found: list[str] = []
    for exc in _chain(error):
        candidates = [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]
        if isinstance(exc, SyntaxError) and exc.filename:
            candidates.append(exc.filename)
        for name in candidates:
            path = os.path.abspath(name)
            if path.startswith(root + os.sep) and os.path.isfile(path) and path not in found:
                found.append(path)
    return [*found, root]


def _chain(error: BaseException | None) -> Iterable[BaseException]:
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def error_app(summary: str, error: AppModuleError) -> Callable[..., Any]:
    """A WSGI app answering 500 with the load error, for development only."""
    cause = error.__cause__ if error.show_traceback else None
    details = "".join(traceback.format_exception(cause)) if cause is not None else ""
    body = f"{summary}\n\n{details}The server reloads when you save a fix.\n".encode()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return application


def hot_reload(environ: os._Environ[str] | dict[str, str]) -> bool:
    return flask_uwsgi_env.flag(environ, "HOT_RELOAD")


def draining(app: Callable[..., Any], health_path: str, flag: str) -> Callable[..., Any]:
    """``app``, answering 503 on ``health_path`` and closing each connection once ``flag`` exists.

    The entrypoint creates the flag when SIGTERM starts the drain; load
    balancers and probes see the 503 and stop sending, clients on kept-alive
    connections reconnect elsewhere, and the app serves on meanwhile. The
    flag is looked at no more than every 0.1 s.
    """
    state = {"checked": 0.0, "on": False}

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        now = time.monotonic()
        if now - state["checked"] > 0.1:
            state["on"], state["checked"] = os.path.exists(flag), now
        if not state["on"]:
            return app(environ, start_response)
        if environ.get("PATH_INFO") == health_path:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Connection", "close")])
            return [b"draining: the server is stopping\n"]

        def closing(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], *exc_info)

        return app(environ, closing)

    return application


def _default_sigchld_in_workers() -> None:
    """Give the workers the default SIGCHLD handling back.

    uwsgi.ini gives the master a do-nothing SIGCHLD handler (to notice exited
    workers at once); forked workers inherit it, and a child the app starts
    would then interrupt uWSGI's own waits in the worker.
    """
    import uwsgi

    def reset() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    if uwsgi.worker_id() > 0:  # lazy-apps: already in a worker
        reset()
    else:
        from uwsgidecorators import postfork

        postfork(reset)


def _traces() -> None:
    """OpenTelemetry, when the app's image has it and OTEL_* asks for it:
    before the app is imported, so that its instrumentations see the app
    (otel_traces.py). Settings it cannot apply stop the container."""
    import otel_traces

    try:
        otel_traces.install()
    except Exception as exc:
        print(f"flask-uwsgi: error: OTEL_*: OpenTelemetry cannot start: {exc!r}", file=sys.stderr, flush=True)
        os._exit(EXIT_NO_APP)


def _application() -> Callable[..., Any]:
    spec = flask_uwsgi_env.get(os.environ, VARIABLE)
    reload = hot_reload(os.environ)
    started_ns = time.time_ns()  # for HOT_RELOAD: a file saved from now on may not be what was imported
    json_logs = flask_uwsgi_env.get(os.environ, "LOG_FORMAT") == "json"
    if json_logs:
        import log_json  # before the app: its logging set up, if it sets up none

        log_json.install()
    _traces()
    try:
        app = load(spec)
    except AppModuleError as error:
        if not reload:
            _fail(spec, error)
        summary = _report(spec, error)
        print("flask-uwsgi: serving this error until a file changes (HOT_RELOAD)", file=sys.stderr, flush=True)
        app = error_app(summary, error)
        watched = files_to_watch(error.__cause__ or error, os.getcwd())
    else:
        watched = []
    if reload:
        import uwsgi_hot_reload

        uwsgi_hot_reload.install(os.getcwd(), watched, started_ns)
    # The dev image's debug.ini imports uwsgi_debugpy before the app: in
    # debug mode only, responses are iterated where a debugger can see them end.
    debug = sys.modules.get("uwsgi_debugpy")
    if debug is not None:
        app = debug.debuggable(app)
    import request_check  # what uWSGI's parsers let through, and chunked bodies, which they read laxly

    app = request_check.checked(app, router=flask_uwsgi_env.get(os.environ, "HTTP_MODE") == "router")
    if int(flask_uwsgi_env.get(os.environ, "STOP_DRAIN_SECONDS")) > 0:
        # The entrypoint's flag file, in the runtime directory it exported.
        flag = os.path.join(os.environ["FLASK_UWSGI_RUN"], "draining")
        app = draining(app, flask_uwsgi_env.get(os.environ, "HEALTHCHECK_PATH"), flag)
    if flask_uwsgi_env.get(os.environ, "METRICS_PORT"):
        import metrics_worker  # metrics.ini's counters, by status class and duration

        app = metrics_worker.instrument(app)
    if json_logs:
        app = log_json.with_request_id(app)
    return app


# Only inside uWSGI, which puts its embedded `uwsgi` module in sys.modules
# before importing anything; tests import this module for its functions.
if hasattr(sys.modules.get("uwsgi"), "worker_id"):
    _default_sigchld_in_workers()
    application = _application()
