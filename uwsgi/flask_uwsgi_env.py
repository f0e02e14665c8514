"""The variables the Python parts read, with their defaults: the Python side
of entrypoint/env.sh, which documents each one.

The entrypoint validates and exports every variable before uWSGI starts, so
inside the image the defaults here only matter when a part runs without it
(the tests); tests/entrypoint/test_documentation.py checks they are env.sh's.
"""

from __future__ import annotations

from collections.abc import Mapping

Environ = Mapping[str, str]  # os.environ, or a dict in the tests

# What a boolean variable accepts as on (the entrypoint's fu_bool); anything else is off.
TRUE = frozenset({"1", "true", "yes", "on"})

DEFAULTS = {
    "APP_MODULE": "main:app",
    "PORT": "8080",
    "HEALTHCHECK_PATH": "/",
    "HOT_RELOAD": "",
    "HTTP_MODE": "nginx",
    "STOP_DRAIN_SECONDS": "0",
    "MAX_REQUEST_BODY": "104857600",
    "METRICS_PORT": "",
    "LOG_FORMAT": "plain",
    "DEBUGPY_HOST": "0.0.0.0",
    "DEBUGPY_PORT": "5678",
    "DEBUGPY_PORTS": "one",
    "DEBUGPY_WAIT": "",
}


def get(environ: Environ, name: str) -> str:
    """The variable's value, or its default when unset or empty."""
    return environ.get(name) or DEFAULTS[name]


def flag(environ: Environ, name: str) -> bool:
    """A boolean variable: on for 1, true, yes or on (any case)."""
    return get(environ, name).strip().lower() in TRUE
