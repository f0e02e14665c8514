"""Compose watch, the way to develop without the source bind mount (Docker
Desktop on macOS and Windows): compose.override.yaml's develop.watch, and
compose.watch.yaml, which drops the mount so that Compose syncs instead.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import COMPOSE
from tests.examples.conftest import EXAMPLES, Stack
from tests.examples.test_compose import VIEWS
from tests.examples.test_files import compose_config
from tests.support.containers import Running, wait_for, wait_served

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "compose.watch.yaml").is_file())
DEV = ["compose.yaml", "compose.override.yaml"]
WATCH = [*DEV, "compose.watch.yaml"]


def test_every_example_can_be_watched() -> None:
    assert {"hello", "notes"} <= set(NAMES)


@pytest.mark.parametrize("example", NAMES)
@pytest.mark.parametrize("files", [DEV, WATCH], ids=["override", "watch"])
def test_develop_watch_syncs_the_source_and_rebuilds_on_the_dockerfile(example: str, files: list[str]) -> None:
    watch = compose_config(example, *files)["develop"]["watch"]
    folder = EXAMPLES / example
    sync = [w for w in watch if w["action"] == "sync"]
    assert [(w["path"], w["target"]) for w in sync] == [(str(folder), "/app")]
    assert {".venv/", "__pycache__/", ".git/", ".devcontainer/"} <= set(sync[0]["ignore"])
    rebuild = [w["path"] for w in watch if w["action"] == "rebuild"]
    assert rebuild == [str(folder / "Dockerfile")]
    # Everything else .dockerignore keeps out of the image, which Compose's
    # sync leaves out too (the README, the Compose and VS Code files).
    ignored = (folder / ".dockerignore").read_text().split()
    assert {".vscode/", ".devcontainer/", "compose*.yaml", "README.md"} <= set(ignored)


@pytest.mark.parametrize("example", NAMES)
def test_the_watch_file_drops_the_source_mount_and_keeps_the_rest(example: str) -> None:
    dev = compose_config(example, *DEV)
    watched = compose_config(example, *WATCH)
    assert any(v["type"] == "bind" and v["target"] == "/app" for v in dev["volumes"])
    assert not any(v["target"] == "/app" for v in watched.get("volumes", []))
    # Only the source mount goes: notes keeps its database volume.
    others = [v for v in dev["volumes"] if v["target"] != "/app"]
    assert watched.get("volumes", []) == others
    for key in ("environment", "ports", "build", "image", "stop_grace_period"):
        assert watched[key] == dev[key], key


class Watched(Stack):
    """`compose watch` on a copy of an example, in the background."""

    def start(self, log: Path) -> Watched:
        self.log = log
        command = [COMPOSE, "-p", self.project, *(a for f in self.files for a in ("-f", f)), "watch"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        # It builds, starts the stack, then watches: a deadline, no fixed wait.
        wait_for(self.container_id, 300, "compose watch to start the web container", interval=0.5)
        self.running = Running(self.container(), {8080: self.port(8080)})
        return self

    def container_id(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"compose watch exited ({self.process.returncode}):\n{self.log.read_text()}")
        command = [COMPOSE, "-p", self.project, "ps", "-q", "web"]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60, check=False)
        return result.stdout.strip() or None

    def stop(self) -> int:
        """Ctrl+C, as in a terminal: watch ends, the stack stays up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


@pytest.fixture
def watched(client: docker.DockerClient, images: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Watched]]:
    """watched(example): compose watch started with compose.watch.yaml; stopped and removed afterwards."""
    started: list[Watched] = []

    def start(example: str) -> Watched:
        # Not in the watched folder: the log would be synced as it grows.
        started.append(Watched(client, example, WATCH, {}))
        return started[-1].start(tmp_path / f"{example}-watch.log")

    yield start
    for stack in started:
        stack.stop()
        stack.down()


@pytest.mark.parametrize("example", NAMES)
def test_compose_watch_serves_a_saved_edit_without_a_bind_mount(
    watched: Callable[[str], Watched], example: str
) -> None:
    app = watched(example)
    name, marker = VIEWS[example]
    path = "/" if example == "hello" else "/api/notes"
    assert app.wait_http(path, timeout=120)[0] == 200
    mounts = app.container().attrs["Mounts"]
    assert not any(m["Destination"] == "/app" for m in mounts), mounts
    wait_for(lambda: "Watch enabled" in app.log.read_text(), 60, "compose watch to watch", interval=0.1)

    source = app.dir / name
    text = source.read_text()
    source.write_text(text.replace(marker, 'return {"edited": "yes", ', 1))
    saved = time.monotonic()

    wait_served(app.url(path), '"edited"', 30, "the edited view, synced by compose watch")
    latency = time.monotonic() - saved
    print(f"{example}: compose watch: edit to new response in {latency:.2f} s")
    log = app.log.read_text()
    assert 'Syncing service "web"' in log, log
    assert "won't be monitored" not in log, log
    # The same container: synced, reloaded by HOT_RELOAD, not recreated.
    assert app.container().id == app.running.container.id
    assert app.container().attrs["RestartCount"] == 0

    # Ctrl+C ends watch within its deadline; the fixture removes the stack.
    started = time.monotonic()
    app.stop()
    assert time.monotonic() - started < 30
