"""What each example ships besides its code: VS Code settings and Compose files."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import COMPOSE
from tests.examples.conftest import EXAMPLES

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def test_there_are_examples() -> None:
    assert {"hello", "notes"} <= set(NAMES)


@pytest.mark.parametrize("example", NAMES)
def test_launch_json_attaches_to_the_dev_stack(example: str) -> None:
    launch = json.loads((EXAMPLES / example / ".vscode" / "launch.json").read_text())
    configurations = {c["name"]: c for c in launch["configurations"]}
    for config in configurations.values():
        assert (config["type"], config["request"], config["justMyCode"]) == ("debugpy", "attach", False)
        assert config["connect"]["host"] == "127.0.0.1"
        assert config["pathMappings"] == [{"localRoot": "${workspaceFolder}", "remoteRoot": "/app"}]
    assert configurations["Attach to flask-uwsgi"]["connect"]["port"] == 5678
    # The compound attaches to each worker's own port (DEBUGPY_PORTS=per-worker).
    (compound,) = launch["compounds"]
    ports = [configurations[name]["connect"]["port"] for name in compound["configurations"]]
    assert ports == [5678, 5679]


@pytest.mark.parametrize("example", NAMES)
def test_tasks_json_brings_the_dev_stack_up_and_down(example: str) -> None:
    tasks = {t["label"]: t for t in json.loads((EXAMPLES / example / ".vscode" / "tasks.json").read_text())["tasks"]}
    assert tasks["dev stack: up"]["command"] == "docker compose up -d --build"
    assert tasks["dev stack: down"]["command"] == "docker compose down"


def compose_config(example: str, *files: str) -> dict:
    command = [COMPOSE, *(f for name in files for f in ("-f", name)), "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k not in {"HTTP_PORT", "DEBUG_PORTS", "DEBUGPY_PORTS"}}
    result = subprocess.run(command, cwd=EXAMPLES / example, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)["services"]["web"]


@pytest.mark.parametrize("example", NAMES)
def test_compose_files_are_spec_files_publishing_on_loopback_only(example: str) -> None:
    for name in ("compose.yaml", "compose.override.yaml"):
        text = (EXAMPLES / example / name).read_text()
        assert not any(line.startswith("version:") for line in text.splitlines()), name
    prod = compose_config(example, "compose.yaml")
    dev = compose_config(example)  # what plain `docker compose up` reads
    assert "DEBUGPY_ENABLE" not in (prod.get("environment") or {})
    assert not any(v["target"] == "/app" for v in prod.get("volumes", []))
    assert [p["target"] for p in prod["ports"]] == [8080]
    assert dev["environment"]["DEBUGPY_ENABLE"] == "1"
    assert dev["environment"]["HOT_RELOAD"] == "1"
    assert any(v["type"] == "bind" and v["target"] == "/app" for v in dev["volumes"])
    assert {p["target"] for p in dev["ports"]} == {8080, 5678, 5679}
    for port in prod["ports"] + dev["ports"]:
        assert port["host_ip"] == "127.0.0.1", port
    assert dev["stop_grace_period"] == "3s"
    assert dev["build"]["args"]["FLASK_UWSGI_IMAGE"].endswith(":dev")
    assert prod["build"]["args"]["FLASK_UWSGI_IMAGE"].endswith(":latest")
