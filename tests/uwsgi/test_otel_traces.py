"""When the app loader sets OpenTelemetry up (uwsgi/otel_traces.py), on the host."""

from __future__ import annotations

import otel_traces
import pytest


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"PATH": "/usr/bin"}, False),
        ({"OTEL_SERVICE_NAME": "notes"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_SERVICE_NAME": "notes", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_SERVICE_NAME": "notes", "OTEL_SDK_DISABLED": " True "}, False),
        ({"OTEL_SERVICE_NAME": "notes", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_wanted_when_an_otel_variable_is_set(environ: dict[str, str], wanted: bool) -> None:
    assert otel_traces.wanted(environ) is wanted


def test_nothing_without_otel_variables(capsys: pytest.CaptureFixture[str]) -> None:
    assert otel_traces.install({}) is False
    assert capsys.readouterr().err == ""


def test_one_line_when_the_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(otel_traces, "installed", lambda: False)
    assert otel_traces.install({"OTEL_SERVICE_NAME": "notes"}) is False
    assert capsys.readouterr().err == (
        "flask-uwsgi: OTEL_* is set, but opentelemetry-distro is not installed: no traces\n"
    )
