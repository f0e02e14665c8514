"""The request path in debug mode: each response iterated in Python.

uWSGI iterates a WSGI response from C. The StopIteration that ends it (raised
in Python by the response's iterator, werkzeug's ClosingIterator say) then
leaves Python with no Python caller, and pydevd reports it as uncaught: with
VS Code's default "Uncaught Exceptions" filter and justMyCode false, every
request would stop there. Handed a Python generator instead, uWSGI sees the
response end without an exception: the generator catches the StopIteration
in Python. An exception the app really lets out still leaves through it,
uncaught, and stops where it was raised.

uwsgi_app_loader wraps the app with ``debuggable`` when the debugger is on.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from debugpy_worker_port import listening

# Python 3.12+: pydevd sees an exception leave Python for C (sys.monitoring).
# Before, it does not, and the exception is handed over with debugpy's
# trigger_exception_handler (it stops only where "Uncaught Exceptions" is on).
REPORTS_UNCAUGHT = sys.version_info >= (3, 12)
_threads = threading.local()


def debuggable(app: Any) -> Any:
    """The WSGI app ``app`` with its responses iterated in Python (debug mode only)."""

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        _trace_this_thread()
        file_wrapper = environ.get("wsgi.file_wrapper")
        files: list[object] = []
        if file_wrapper is not None:

            def wrap_file(*args: Any, **kwargs: Any) -> Any:
                wrapped = file_wrapper(*args, **kwargs)
                files.append(wrapped)
                return wrapped

            environ["wsgi.file_wrapper"] = wrap_file
        try:
            response = app(environ, start_response)
        except Exception:
            _report_uncaught()
            raise
        # A file from wsgi.file_wrapper is sent by uWSGI itself (sendfile,
        # or read() from C), which raises nothing; lists and tuples neither.
        if isinstance(response, (list, tuple)) or any(response is wrapped for wrapped in files):
            return response
        return _iterate(response)

    return application


def _iterate(response: Any) -> Any:
    iterator = iter(response)
    try:
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except Exception:
                _report_uncaught()
                raise
            try:
                yield chunk
            except GeneratorExit:
                # uWSGI closes a response it stops sending, the client gone
                # (nginx drops the request when its client does): end here,
                # in Python, or the GeneratorExit leaves for C and stops the
                # debugger as uncaught.
                return
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


def _report_uncaught() -> None:
    if not REPORTS_UNCAUGHT:
        import debugpy

        debugpy.trigger_exception_handler()


def _trace_this_thread() -> None:
    """Per-worker ports, Python < 3.12: make debugpy trace this request thread.

    uWSGI starts its request threads from C, which pydevd's tracing (before
    sys.monitoring) does not follow; debugpy.debug_this_thread() is its
    interface for such threads. Once per thread, after this worker's listen.
    """
    if REPORTS_UNCAUGHT or not listening.is_set() or getattr(_threads, "traced", False):
        return
    import debugpy

    debugpy.debug_this_thread()
    _threads.traced = True
