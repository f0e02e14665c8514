"""The examples as a newcomer runs them: through the Compose v2 CLI, from
each example's folder, with its compose.yaml and compose.override.yaml.

Each stack runs from a copy of the example (so edits stay in the test) in a
project of its own, its ports published on free ports of 127.0.0.1
(HTTP_PORT= and DEBUG_PORTS= empty), and is removed with its volumes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import COMPOSE, ROOT

# The image tests' fixtures (images built once per run), for this folder too.
from tests.support.containers import DEV_IMAGE, PROD_IMAGE, Running

EXAMPLES = ROOT / "examples"
HERE = Path(__file__).resolve().parent
# Test-only settings merged over the dev stack (see the file).
TEST_OVERRIDE = HERE / "compose.test.yaml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that needs the images (the stacks, a built or run image) needs a
    # Docker engine; the files' own checks here do not.
    for item in items:
        if "images" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.image)


def compose_down(project: str, cwd: Path, env: dict[str, str]) -> None:
    """Remove a Compose project's containers and volumes, at once (teardown: errors ignored)."""
    subprocess.run(
        [COMPOSE, "-p", project, "down", "-v", "-t", "0"],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


class Stack:
    """One example's Compose project, run from a copy of its folder."""

    def __init__(self, docker_client: docker.DockerClient, example: str, files: list[str], env: dict[str, str]) -> None:
        self.client = docker_client
        self.example = example
        self.dir = Path(tempfile.mkdtemp(prefix=f"flask-uwsgi-{example}-"))
        self.dir.chmod(0o755)
        shutil.copytree(EXAMPLES / example, self.dir, dirs_exist_ok=True)
        for path in self.dir.rglob("*"):  # readable by the container's user (uid 10001)
            path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
        self.files = files
        self.project = f"fu-test-{example}-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "FLASK_UWSGI_IMAGE": PROD_IMAGE,
            "FLASK_UWSGI_DEV_IMAGE": DEV_IMAGE,
            "HTTP_PORT": "",
            "DEBUG_PORTS": "",
            **env,
        }

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [COMPOSE, "-p", self.project, *(f for name in self.files for f in ("-f", name)), *args]
        result = subprocess.run(
            command, cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def up(self) -> Stack:
        self.compose("up", "-d", "--build")
        # The image tests' view of the started container (logs, HTTP, waits).
        self.running = Running(self.container(), {8080: self.port(8080)})
        return self

    def down(self) -> None:
        compose_down(self.project, self.dir, self.env)
        shutil.rmtree(self.dir, ignore_errors=True)

    def container(self, service: str = "web") -> Container:
        (container_id,) = self.compose("ps", "-q", service).stdout.split()
        return self.client.containers.get(container_id)

    def config(self) -> dict:
        return json.loads(self.compose("config", "--format", "json").stdout)

    def port(self, container_port: int, service: str = "web") -> int:
        """The free port of 127.0.0.1 that Compose published the service's container_port on."""
        address = self.compose("port", service, str(container_port)).stdout.strip()
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1", address
        return int(port)

    def url(self, path: str = "/") -> str:
        return self.running.url(path)

    def logs(self) -> str:
        return self.running.logs()

    def wait_log(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        return self.running.wait_log(pattern, timeout)

    def wait_http(self, path: str = "/", timeout: float = 60) -> tuple[int, str]:
        return self.running.wait_http(path, timeout)

    def health(self) -> str:
        container = self.container()
        return container.attrs["State"].get("Health", {}).get("Status", "none")


@pytest.fixture
def stack(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., Stack]]:
    """stack(example, files=[...], **env): a started Compose project; removed afterwards.

    files=[] is what plain `docker compose up` reads (compose.yaml and
    compose.override.yaml); ["compose.yaml"] the production-like stack.
    """
    stacks: list[Stack] = []

    def start(example: str, files: list[str] | None = None, **env: str) -> Stack:
        project = Stack(client, example, files or [], env)
        stacks.append(project)
        return project.up()

    yield start
    for project in stacks:
        project.down()
