"""The Docker fixtures every image test package uses (tests/conftest.py loads them):
the engine's client, the images (built once per run unless BUILD=0, in which
case PROD_IMAGE and DEV_IMAGE are tested as they are), containers started
with ``run``, user images built with ``build``, and a folder containers can read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.conftest import ROOT
from tests.support.containers import DEV_IMAGE, PROD_IMAGE, Running, remove_all, start_container


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return docker.from_env(timeout=300)


@pytest.fixture(scope="session")
def images(client: docker.DockerClient) -> dict[str, str]:
    """The prod and dev image names, built once for the whole run."""
    if os.environ.get("BUILD", "1") != "0":
        subprocess.run(["make", "-s", "images"], cwd=ROOT, check=True)
    for name in (PROD_IMAGE, DEV_IMAGE):
        client.images.get(name)  # fails the run early if missing
    return {"prod": PROD_IMAGE, "dev": DEV_IMAGE}


@pytest.fixture
def run(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., Running]]:
    """Start containers (``start_container``) of a variant ("prod", "dev") or
    ``image``; all are removed afterwards."""
    started: list[Container] = []

    def start(variant: str = "prod", *, image: str | None = None, **kwargs: Any) -> Running:
        return start_container(client, image or images[variant], started, **kwargs)

    yield start
    remove_all(started)


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A temporary folder the container's user can read (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="flask-uwsgi-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def build(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[..., str]]:
    """Build a user image from a folder (classic builder); removed afterwards."""
    built: list[str] = []

    def make(context: Path, tag: str, **buildargs: str) -> str:
        subprocess.run(
            [
                "docker",
                "build",
                "-q",
                "-t",
                tag,
                *(f"--build-arg={k}={v}" for k, v in buildargs.items()),
                ".",
            ],
            cwd=context,
            check=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        built.append(tag)
        return tag

    yield make
    for tag in built:
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(tag, force=True)
