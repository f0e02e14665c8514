"""The debugger's settings (uwsgi/debugpy_config.py), on the host."""

from __future__ import annotations

import os
from pathlib import Path

import debugpy_config
import pytest


def test_settings_defaults() -> None:
    assert debugpy_config.settings({}) == debugpy_config.Settings("0.0.0.0", 5678, wait=False, mode="one")


def test_settings_from_environment() -> None:
    env = {"DEBUGPY_HOST": "127.0.0.1", "DEBUGPY_PORT": "6000", "DEBUGPY_WAIT": "Yes", "DEBUGPY_PORTS": "Per-Worker"}
    config = debugpy_config.settings(env)
    assert (config.host, config.port, config.wait, config.mode) == ("127.0.0.1", 6000, True, "per-worker")


@pytest.mark.parametrize(("worker", "port"), [(1, 5678), (2, 5679), (8, 5685)])
def test_worker_ports(worker: int, port: int) -> None:
    assert debugpy_config.worker_port(5678, worker) == port


def test_debugpy_runs_its_adapter_with_the_launcher_beside_this_module() -> None:
    program = Path(debugpy_config.adapter_program())
    assert program == Path(debugpy_config.__file__).with_name("debugpy_adapter.py")
    assert os.access(program, os.X_OK)
    assert program.read_text().startswith("#!/usr/bin/env python3\n")
