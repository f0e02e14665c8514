"""OpenTelemetry traces from every worker, with no change to the app.

When the app's image installs OpenTelemetry's zero-code instrumentation
(``opentelemetry-distro`` and the instrumentations it wants, e.g.
``opentelemetry-instrumentation-flask``) and any ``OTEL_*`` variable is set,
the app loader calls ``install()`` before it imports the app. Without those
packages, nothing happens (one line says why, if ``OTEL_*`` is set).

Why not ``opentelemetry-instrument uwsgi ...``: it sets the SDK up in the
master, through ``sitecustomize``, and OpenTelemetry's docs warn that under
a pre-fork server it then breaks. Here, the same public entry point
(``auto_instrumentation.initialize``) runs in the master before the app is
imported, so that the instrumentations patch Flask before the app exists.
The SDK's batch processors start each worker's own export thread from
Python's after-fork hooks (opentelemetry-sdk, BatchProcessor:
https://github.com/open-telemetry/opentelemetry-python/blob/main/opentelemetry-sdk/src/opentelemetry/sdk/_shared_internal/__init__.py),
which uWSGI runs around its forks because the entrypoint sets
py-call-uwsgi-fork-hooks whenever ``wanted`` (fu_otel_wanted).
The resource is built once, in the master, so each span gets the pid of the
worker that made it (``process.pid``) from a span processor of ours.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping

# What OTEL_SDK_DISABLED means (the SDK's own reading of it).
DISABLED = "true"


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for OpenTelemetry (any OTEL_* variable)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == DISABLED:
        return False
    return any(name.startswith("OTEL_") for name in environ)


def installed() -> bool:
    """Whether the app's image has OpenTelemetry's zero-code instrumentation."""
    try:
        return importlib.util.find_spec("opentelemetry.instrumentation.auto_instrumentation") is not None
    except ModuleNotFoundError:
        return False


def install(environ: Mapping[str, str] = os.environ) -> bool:
    """Set OpenTelemetry up in this process, before the app is imported.
    Returns whether it did; raises when the OTEL_* settings cannot work."""
    if not wanted(environ):
        return False
    if not installed():
        print(
            "flask-uwsgi: OTEL_* is set, but opentelemetry-distro is not installed: no traces",
            file=sys.stderr,
            flush=True,
        )
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    # (raises, rather than logs and goes on, on a setting it cannot apply)
    initialize(swallow_exceptions=False)
    provider = trace.get_tracer_provider()
    if hasattr(provider, "add_span_processor"):  # the SDK's provider, not the no-op one
        provider.add_span_processor(_worker_pid())
    return True


def _worker_pid() -> object:
    """A span processor that puts the pid of the process making a span on it."""
    from opentelemetry.sdk.trace import SpanProcessor

    class WorkerPid(SpanProcessor):
        def on_start(self, span: object, parent_context: object = None) -> None:
            span.set_attribute("process.pid", os.getpid())  # type: ignore[attr-defined]

    return WorkerPid()
