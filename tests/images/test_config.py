"""Configuration layering and hooks, in real containers."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.containers import APPS, Running

Run = Callable[..., Running]


def last(value: object) -> object:
    """uwsgi.opt keeps every value given; the last one is in effect."""
    return value[-1] if isinstance(value, list) else value


@pytest.fixture(params=["prod", "dev"])
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


def report(app: Running) -> dict:
    status, body = app.wait_http()
    assert status == 200, body
    return json.loads(body)


def test_defaults_are_in_effect(run: Run) -> None:
    # Settings that only the image's uwsgi.ini makes (the app's ini leaves them).
    opt = report(run(app=APPS / "config"))["opt"]
    assert opt["master"] == "true"
    assert opt["need-app"] == "true"
    assert opt["strict"] == "true"
    assert last(opt["worker-reload-mercy"]) == "8"
    # (uwsgi.opt keeps one of the two hook-master-start lines; that SIGTERM
    # stops gracefully is what tests/images/test_prod.py and test_stop check)
    assert "unix_signal:17 uwsgi_opt_noop" in str(opt["hook-master-start"])
    assert opt["disable-logging"] == "true"


def test_app_ini_is_layered_over_the_defaults(run: Run, variant: str) -> None:
    body = report(run(variant, app=APPS / "config"))
    assert body["numproc"] == 3
    assert last(body["opt"]["harakiri"]) == "20"
    assert last(body["opt"]["buffer-size"]) == "16384"
    assert last(body["opt"]["threads"]) == "64"  # from the image's defaults


def test_uwsgi_variables_win_over_both_ini_files(run: Run, variant: str) -> None:
    env = {"UWSGI_PROCESSES": "2", "UWSGI_HARAKIRI": "45", "UWSGI_ENV": "ADDED=1"}
    body = report(run(variant, app=APPS / "config", env=env))
    assert body["numproc"] == 2
    assert last(body["opt"]["harakiri"]) == "45"
    assert body["opt"]["env"] == "ADDED=1"  # once, not twice
    # moved onto the command line (uWSGI sets UWSGI_RELOADS and such itself)
    assert not {"UWSGI_PROCESSES", "UWSGI_HARAKIRI", "UWSGI_ENV"} & set(body["uwsgi_env"])


def test_prestart_and_dropins_run_before_the_server(run: Run, variant: str) -> None:
    app = run(
        variant,
        app=APPS / "config",
        volumes={str(APPS / "dropins"): {"bind": "/docker-entrypoint.d", "mode": "ro"}},
    )
    body = report(app)
    assert body["prestart"] == "prestart ran as 10001"
    assert body["dropin_sh"] is True
    assert body["from_envsh"] == "yes"
    logs = app.logs()
    order = [
        logs.index("sourcing /docker-entrypoint.d/10-env.envsh"),
        logs.index("running /docker-entrypoint.d/20-mark.sh"),
        logs.index("running /app/prestart.sh"),
        logs.index("getting INI configuration"),
    ]
    assert order == sorted(order)
