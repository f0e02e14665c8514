"""Bad input: a one-line error naming the culprit, a non-zero exit, no restart loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.images.conftest import APPS, HELLO, Running

Run = Callable[..., Running]

CASES = [
    # id, env, app folder, expected exit status, expected error line
    ("port-not-a-number", {"PORT": "http"}, HELLO, 78, 'error: PORT="http" is not a port number (1-65535)'),
    ("port-out-of-range", {"PORT": "70000"}, HELLO, 78, 'error: PORT="70000" is not a port number'),
    ("debug-port-text", {"DEBUGPY_PORT": "five"}, HELLO, 78, 'error: DEBUGPY_PORT="five" is not a port'),
    ("debug-port-zero", {"DEBUGPY_PORT": "0"}, HELLO, 78, 'error: DEBUGPY_PORT="0" is not a port number'),
    (
        "debug-enable",
        {"DEBUGPY_ENABLE": "please"},
        HELLO,
        78,
        'error: DEBUGPY_ENABLE="please" is not a boolean',
    ),
    ("app-module-file", {"APP_MODULE": "main.py"}, HELLO, 78, 'error: APP_MODULE="main.py" names a file'),
    ("app-module-form", {"APP_MODULE": "my-app:app"}, HELLO, 78, 'error: APP_MODULE="my-app:app" is not module:'),
    (
        "app-module-missing",
        {"APP_MODULE": "nothere:app"},
        HELLO,
        22,
        "error: APP_MODULE=nothere:app: no module named 'nothere' in /app",
    ),
    (
        "app-callable-missing",
        {"APP_MODULE": "main:nothere"},
        HELLO,
        22,
        "error: APP_MODULE=main:nothere: 'main' has no attribute 'nothere'",
    ),
    (
        "app-syntax-error",
        {},
        APPS / "broken_syntax",
        22,
        "error: APP_MODULE=main:app: importing 'main' failed: SyntaxError: invalid syntax (/app/main.py, line 5)",
    ),
    (
        "failing-prestart",
        {},
        APPS / "failing_prestart",
        3,
        "error: /app/prestart.sh failed with exit status 3",
    ),
    ("uwsgi-typo", {"UWSGI_PROCESES": "2"}, HELLO, 1, "[strict-mode] unknown config directive: proceses"),
    (
        "uwsgi-number",
        {"UWSGI_THREADS": "lots"},
        HELLO,
        78,
        'error: UWSGI_THREADS="lots" is not a whole number',
    ),
]


@pytest.mark.parametrize("variant", ["prod", "dev"])
@pytest.mark.parametrize(("env", "app", "status", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_with_a_clear_error(
    run: Run, variant: str, env: dict[str, str], app: Path, status: int, message: str
) -> None:
    started = time.monotonic()
    container = run(variant, app=app, env=env, ports=())
    exit_status = container.wait_exit(timeout=30)
    seconds = time.monotonic() - started
    logs = container.logs()
    assert exit_status == status, logs
    assert seconds < 10, f"took {seconds:.1f} s to exit"
    matching = [line for line in logs.splitlines() if message in line]
    assert len(matching) == 1, logs
    if variant == "dev":
        # supervisord gave up at once instead of restarting uWSGI in a loop
        assert logs.count("spawned: 'uwsgi'") <= 1, logs
