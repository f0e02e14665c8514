"""The Dockerfiles: both builders, labels, sizes, the contract a user relies on."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable

import docker
import pytest

from tests.conftest import ROOT
from tests.support.containers import Running

Run = Callable[..., Running]


def test_image_metadata(client: docker.DockerClient, images: dict[str, str]) -> None:
    for variant, name in images.items():
        config = client.images.get(name).attrs["Config"]
        # dev starts as root only to become /app's owner (tests/images/test_dev.py)
        assert config["User"] == {"prod": "10001", "dev": "0"}[variant]
        assert config["ExposedPorts"] == {"8080/tcp": {}}
        assert config["StopSignal"] == "SIGTERM"
        assert config["Healthcheck"]["Test"] == ["CMD", "flask-uwsgi-healthcheck"]
        assert config["WorkingDir"] == "/app"
        labels = config["Labels"]
        assert labels["org.opencontainers.image.title"] == "flask-uwsgi"
        assert labels["io.github.flask-uwsgi.variant"] == variant
    prod = client.images.get(images["prod"]).attrs["Config"]["Entrypoint"]
    dev = client.images.get(images["dev"]).attrs["Config"]["Entrypoint"]
    assert prod == ["tini", "--", "docker-entrypoint.sh"]
    assert dev == ["docker-entrypoint.sh"]


def test_dev_is_built_from_prod(client: docker.DockerClient, images: dict[str, str]) -> None:
    prod_layers = client.images.get(images["prod"]).attrs["RootFS"]["Layers"]
    dev_layers = client.images.get(images["dev"]).attrs["RootFS"]["Layers"]
    assert dev_layers[: len(prod_layers)] == prod_layers


@pytest.mark.skipif(os.environ.get("BUILD", "1") == "0", reason="BUILD=0: images come from elsewhere")
def test_buildkit_builds_working_images(run: Run, client: docker.DockerClient) -> None:
    tags = {"prod": "flask-uwsgi-test:buildkit", "dev": "flask-uwsgi-test:buildkit-dev"}
    env = {**os.environ, "BUILDER": "buildkit", "PROD_IMAGE": tags["prod"], "DEV_IMAGE": tags["dev"]}
    try:
        subprocess.run(["scripts/build-images.sh"], cwd=ROOT, env=env, check=True)
        prod = run(image=tags["prod"])
        assert prod.wait_http()[0] == 200
        dev = run("dev", image=tags["dev"], env={"DEBUGPY_ENABLE": "1"})
        assert dev.wait_http()[0] == 200
        dev.wait_log(r"debugpy: worker 1 ready to join the debug session on port 5678")
    finally:
        for tag in tags.values():
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(tag, force=True)


@pytest.mark.parametrize(
    ("python", "message"),
    [
        ("3.12", "error: no Debian suite ships Python 3.12, so it has no offline base: pull python:3.12-slim"),
        ("3.10", "error: PYTHON_VERSION=3.10 is not supported"),
    ],
)
def test_a_python_without_a_base_is_one_clear_line(python: str, message: str) -> None:
    """Where python:X.Y-slim cannot be pulled and no Debian suite ships X.Y: never another Python instead."""
    if subprocess.run(["docker", "pull", "-q", f"python:{python}-slim"], capture_output=True).returncode == 0:
        pytest.skip(f"python:{python}-slim can be pulled here")
    env = {**os.environ, "PYTHON_VERSION": python, "PROD_IMAGE": "flask-uwsgi-test:never", "DEV_IMAGE": "x:never"}
    env.pop("BASE_IMAGE", None)
    result = subprocess.run(["scripts/build-images.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"flask-uwsgi: {message}"), result.stderr
