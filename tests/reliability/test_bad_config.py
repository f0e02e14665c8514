"""Bad configuration: one error line naming the culprit, a non-zero exit within 10 s, nothing left running.

One table, every case on both images (some only make sense on dev): variables,
hooks, ini files, extra arguments and apps that cannot be imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.reliability.conftest import HERE
from tests.support.containers import APPS, HELLO, Running

Run = Callable[..., Running]
BAD_APPS = HERE / "apps"
DROPINS = HERE / "dropins"
BOTH = ("prod", "dev")


class Case(NamedTuple):
    id: str
    env: dict[str, str]
    status: int
    message: str
    app: Path = HELLO
    variants: tuple[str, ...] = BOTH
    dropins: Path | None = None
    command: list[str] | None = None


CASES = [
    # --- variables ---------------------------------------------------------
    Case("port-not-a-number", {"PORT": "http"}, 78, 'error: PORT="http" is not a port number (1-65535)'),
    Case("port-out-of-range", {"PORT": "70000"}, 78, 'error: PORT="70000" is not a port number'),
    Case("debug-port-text", {"DEBUGPY_PORT": "five"}, 78, 'error: DEBUGPY_PORT="five" is not a port'),
    Case("debug-port-zero", {"DEBUGPY_PORT": "0"}, 78, 'error: DEBUGPY_PORT="0" is not a port number'),
    Case("debug-enable", {"DEBUGPY_ENABLE": "please"}, 78, 'error: DEBUGPY_ENABLE="please" is not a boolean'),
    Case("debug-wait", {"DEBUGPY_WAIT": "maybe"}, 78, 'error: DEBUGPY_WAIT="maybe" is not a boolean'),
    Case(
        "debug-host",
        {"DEBUGPY_HOST": "0.0.0.0 ::"},
        78,
        'error: DEBUGPY_HOST="0.0.0.0 ::" is not an address to listen on',
    ),
    Case(
        "port-on-debug-port",
        {"DEBUGPY_ENABLE": "1", "PORT": "5678"},
        78,
        'error: PORT="5678" collides with the debug port (DEBUGPY_PORT)',
        variants=("dev",),
    ),
    Case(
        "debug-ports-mode",
        {"DEBUGPY_ENABLE": "1", "DEBUGPY_PORTS": "each"},
        78,
        'error: DEBUGPY_PORTS="each" is not one or per-worker',
        variants=("dev",),
    ),
    Case("hot-reload", {"HOT_RELOAD": "sometimes"}, 78, 'error: HOT_RELOAD="sometimes" is not a boolean'),
    Case(
        "debug-ports-past-65535",
        {"DEBUGPY_ENABLE": "1", "DEBUGPY_PORTS": "per-worker", "UWSGI_PROCESSES": "4", "DEBUGPY_PORT": "65534"},
        78,
        'error: DEBUGPY_PORT="65534" leaves no room for 4 workers\' ports (up to 65537 > 65535)',
        variants=("dev",),
    ),
    Case("app-module-file", {"APP_MODULE": "main.py"}, 78, 'error: APP_MODULE="main.py" names a file'),
    Case("app-module-form", {"APP_MODULE": "my-app:app"}, 78, 'error: APP_MODULE="my-app:app" is not module:'),
    Case("uwsgi-number", {"UWSGI_THREADS": "lots"}, 78, 'error: UWSGI_THREADS="lots" is not a whole number'),
    Case("uwsgi-typo", {"UWSGI_PROCESES": "2"}, 1, "[strict-mode] unknown config directive: proceses"),
    # --- hooks ---------------------------------------------------------------
    Case("failing-prestart", {}, 3, "error: /app/prestart.sh failed with exit status 3", APPS / "failing_prestart"),
    Case(
        "missing-prestart",
        {"PRESTART_SCRIPT": "/app/migrate.sh"},
        78,
        'error: PRESTART_SCRIPT="/app/migrate.sh" does not exist',
    ),
    Case(
        "failing-dropin",
        {},
        4,
        "error: /docker-entrypoint.d/10-fail.sh failed with exit status 4",
        dropins=DROPINS / "failing",
    ),
    Case(
        "failing-envsh",
        {},
        5,
        "error: /docker-entrypoint.d/10-fail.envsh failed with exit status 5",
        dropins=DROPINS / "failing_envsh",
    ),
    Case(
        "envsh-exports-bad-value",
        {},
        78,
        'error: PORT="abc" is not a port number (1-65535)',
        dropins=DROPINS / "bad_export",
    ),
    # --- ini files and arguments ------------------------------------------------
    Case("app-ini-typo", {}, 1, "[strict-mode] unknown config directive: proceses", BAD_APPS / "bad_ini"),
    Case(
        "argument-typo",
        {},
        1,
        "uwsgi: unrecognized option '--proceses'",
        command=["--proceses", "2"],
    ),
    # --- the app -----------------------------------------------------------------
    Case(
        "app-module-missing",
        {"APP_MODULE": "nothere:app"},
        22,
        "error: APP_MODULE=nothere:app: no module named 'nothere' in /app",
    ),
    Case(
        "app-callable-missing",
        {"APP_MODULE": "main:nothere"},
        22,
        "error: APP_MODULE=main:nothere: 'main' has no attribute 'nothere'",
    ),
    Case(
        "app-syntax-error",
        {},
        22,
        "error: APP_MODULE=main:app: importing 'main' failed: SyntaxError: invalid syntax (/app/main.py, line 5)",
        APPS / "broken_syntax",
    ),
    Case(
        "app-missing-dependency",
        {},
        22,
        "error: APP_MODULE=main:app: importing 'main' failed: "
        "ModuleNotFoundError: No module named 'flask_missing_extension'",
        BAD_APPS / "missing_dependency",
    ),
    Case(
        "app-raises-at-import",
        {},
        22,
        "error: APP_MODULE=main:app: importing 'main' failed: RuntimeError: DATABASE_URL is not set",
        BAD_APPS / "raises_at_import",
    ),
    Case(
        "app-not-callable",
        {},
        22,
        "error: APP_MODULE=main:app: 'main:app' is a str, not a WSGI callable",
        BAD_APPS / "not_callable",
    ),
    Case(
        "factory-fails",
        {"APP_MODULE": 'factoryapp:create_app("a", "b", "c")'},
        22,
        'error: APP_MODULE=factoryapp:create_app("a", "b", "c"): calling factory \'factoryapp:create_app\' '
        "failed: TypeError:",
        APPS / "factory",
    ),
    Case(
        "factory-non-literal",
        {"APP_MODULE": "factoryapp:create_app(greeting)"},
        22,
        "error: APP_MODULE=factoryapp:create_app(greeting): factory arguments must be Python literals",
        APPS / "factory",
    ),
]

PARAMS = [pytest.param(case, variant, id=f"{case.id}-{variant}") for case in CASES for variant in case.variants]


def test_the_matrix_is_big_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 20


@pytest.mark.parametrize(("case", "variant"), PARAMS)
def test_bad_config_exits_with_one_clear_line(run: Run, case: Case, variant: str) -> None:
    options: dict[str, Any] = {}
    if case.dropins:
        options["volumes"] = {str(case.dropins): {"bind": "/docker-entrypoint.d", "mode": "ro"}}
    started = time.monotonic()
    container = run(variant, app=case.app, env=case.env, command=case.command, ports=(), **options)
    exit_status = container.wait_exit(timeout=30)
    seconds = time.monotonic() - started
    logs = container.logs()
    assert exit_status == case.status, logs
    assert seconds < 10, f"took {seconds:.1f} s to exit"
    matching = [line for line in logs.splitlines() if case.message in line]
    assert len(matching) == 1, logs
    # Nothing left running: the container is over, and on dev supervisord gave
    # up at once instead of restarting uWSGI in a loop.
    assert container.status() == "exited"
    if variant == "dev":
        assert logs.count("spawned: 'uwsgi'") <= 1, logs
