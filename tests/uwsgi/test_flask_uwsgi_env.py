"""The Python parts' variables (uwsgi/flask_uwsgi_env.py): env.sh's defaults, one boolean rule."""

from __future__ import annotations

import re

import flask_uwsgi_env
import pytest

from tests.conftest import ROOT


def test_the_defaults_are_env_sh_ones() -> None:
    env_sh = (ROOT / "entrypoint" / "env.sh").read_text()
    defaults = dict(re.findall(r'^: "\$\{([A-Z_]+):=([^}]*)\}"$', env_sh, re.MULTILINE))
    assert {name: defaults.get(name) for name in flask_uwsgi_env.DEFAULTS} == flask_uwsgi_env.DEFAULTS


def test_an_unset_or_empty_variable_has_its_default() -> None:
    assert flask_uwsgi_env.get({}, "APP_MODULE") == "main:app"
    assert flask_uwsgi_env.get({"APP_MODULE": ""}, "APP_MODULE") == "main:app"
    assert flask_uwsgi_env.get({"APP_MODULE": "pkg:create()"}, "APP_MODULE") == "pkg:create()"


@pytest.mark.parametrize(("value", "on"), [("1", True), ("Yes", True), (" ON ", True), ("0", False), ("", False)])
def test_flag(value: str, on: bool) -> None:
    assert flask_uwsgi_env.flag({"HOT_RELOAD": value}, "HOT_RELOAD") is on
