"""The examples' dev containers (.devcontainer/devcontainer.json), as VS Code's
"Reopen in Container" brings them up, through the Dev Containers CLI that
package-lock.json pins (make ci-tools).

The files' own checks need nothing but Python; the rest runs the CLI against
real containers: `devcontainer up` on a copy of the example, the app over
HTTP, a debugger attach hitting a breakpoint in both workers, a saved edit
served, and `devcontainer exec` running as the owner of the source, like the
server. The CLI writes only to the test's temporary folders (TMPDIR,
--user-data-folder), and each project is removed with its volumes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import COMPOSE, ROOT
from tests.examples.conftest import EXAMPLES, compose_down
from tests.examples.test_compose import VIEWS
from tests.examples.test_files import compose_config
from tests.support.containers import DEV_IMAGE, PROD_IMAGE, Running, http_get, published, wait_for, wait_served
from tests.support.dap import Session

NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / ".devcontainer").is_dir())
DEVCONTAINER_CLI = ROOT / "node_modules" / ".bin" / "devcontainer"
# A developer's uid on a Linux host, for the copy's files when the tests run
# as root (the dev image runs the server as the owner of /app; root means 10001).
DEVELOPER_UID = 1000


def jsonc(path: Path) -> Any:
    """devcontainer.json: JSON with // comments (none inside the strings here)."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")]
    return json.loads("\n".join(lines))


def config(example: str) -> dict[str, Any]:
    return jsonc(EXAMPLES / example / ".devcontainer" / "devcontainer.json")


# --- the files ---------------------------------------------------------------


def test_every_example_has_a_dev_container() -> None:
    with_compose = sorted(p.name for p in EXAMPLES.iterdir() if (p / "compose.yaml").is_file())
    assert with_compose == NAMES


def test_jsonc_reader_sees_every_line_that_is_not_a_comment() -> None:
    text = (EXAMPLES / "hello" / ".devcontainer" / "devcontainer.json").read_text()
    # No comment after a value on the same line: the reader above would keep it.
    for line in text.splitlines():
        assert "//" not in line or line.lstrip().startswith("//"), line


@pytest.mark.parametrize("example", NAMES)
def test_devcontainer_json_is_the_dev_stack_of_compose(example: str) -> None:
    conf = config(example)
    folder = EXAMPLES / example / ".devcontainer"
    assert conf["dockerComposeFile"] == ["../compose.yaml", "../compose.override.yaml"]
    for name in conf["dockerComposeFile"]:
        assert (folder / name).resolve().is_file(), name
    assert (conf["service"], conf["workspaceFolder"]) == ("web", "/app")
    assert conf["shutdownAction"] == "stopCompose"
    # The image's entrypoint runs; commands run as app, named after /app's owner by the entrypoint.
    assert conf["overrideCommand"] is False
    assert (conf["remoteUser"], conf["updateRemoteUserUID"]) == ("app", False)
    assert {8080, 5678} <= set(conf["forwardPorts"])
    assert set(conf["customizations"]["vscode"]["extensions"]) == {"ms-python.python", "ms-python.debugpy"}
    assert conf["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"] == "/opt/venv/bin/python"
    # Nothing to download at start: no features, no image but the app's own build.
    assert not {"features", "image", "build"} & set(conf)


STACKS = {
    "prod": ["compose.yaml"],
    "dev": ["compose.yaml", "compose.override.yaml"],
    "watch": ["compose.yaml", "compose.override.yaml", "compose.watch.yaml"],
}


@pytest.mark.parametrize("example", NAMES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_published_port_is_on_loopback(example: str, stack: str) -> None:
    """The ports the dev container's files publish, debug ports included, and
    the other stacks': this machine only."""
    ports = compose_config(example, *STACKS[stack])["ports"]
    assert {p["target"] for p in ports} >= {8080}
    assert all(p["host_ip"] == "127.0.0.1" for p in ports), ports


@pytest.mark.parametrize("example", NAMES)
def test_the_dev_container_is_not_copied_into_the_image(example: str) -> None:
    ignored = (EXAMPLES / example / ".dockerignore").read_text().split()
    assert ".devcontainer/" in ignored


def test_the_cli_is_pinned_exactly() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = package["devDependencies"]["@devcontainers/cli"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert lock["packages"]["node_modules/@devcontainers/cli"]["version"] == version


# --- the CLI, for real ---------------------------------------------------------


class DevContainer:
    """One example's dev container, from a copy of its folder, through the CLI."""

    def __init__(self, docker_client: docker.DockerClient, example: str) -> None:
        self.client = docker_client
        self.example = example
        self.tmp = Path(tempfile.mkdtemp(prefix=f"flask-uwsgi-devcontainer-{example}-"))
        self.tmp.chmod(0o755)
        self.dir = self.tmp / example
        shutil.copytree(EXAMPLES / example, self.dir)
        # A developer's checkout: the files belong to a non-root uid.
        self.owner = DEVELOPER_UID if os.getuid() == 0 else os.getuid()
        for path in [self.dir, *self.dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
            if os.getuid() == 0:
                os.chown(path, self.owner, self.owner)
        self.project = f"fu-test-dc-{example}-{uuid.uuid4().hex[:8]}"
        (self.tmp / "cli-tmp").mkdir()
        self.env = {
            **os.environ,
            "FLASK_UWSGI_IMAGE": PROD_IMAGE,
            "FLASK_UWSGI_DEV_IMAGE": DEV_IMAGE,
            "HTTP_PORT": "",
            "DEBUG_PORTS": "",
            "COMPOSE_PROJECT_NAME": self.project,
            # The CLI's scratch files (devcontainercli-<user>/), here rather than /tmp.
            "TMPDIR": str(self.tmp / "cli-tmp"),
        }
        self.running: Running | None = None

    def cli(self, command: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = [
            str(DEVCONTAINER_CLI),
            command,
            "--workspace-folder",
            str(self.dir),
            "--docker-compose-path",
            COMPOSE,
            "--user-data-folder",
            str(self.tmp / "cli-data"),
            *args,
        ]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)

    def up(self) -> dict[str, Any]:
        started = time.monotonic()
        result = self.cli("up")
        self.up_seconds = time.monotonic() - started
        assert result.returncode == 0, f"devcontainer up failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        # One JSON line on stdout; the log goes to stderr.
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        assert outcome["outcome"] == "success", outcome
        container = self.client.containers.get(outcome["containerId"])
        ports = wait_for(lambda: published(container, (8080, 5678)), 30, "published ports")
        self.running = Running(container, ports)
        return outcome

    def exec(self, *command: str) -> str:
        result = self.cli("exec", *command, timeout=60)
        assert result.returncode == 0, f"devcontainer exec {command} failed:\n{result.stderr[-3000:]}"
        return result.stdout

    def worker_ids(self) -> dict[int, tuple[int, int]]:
        """pid: (uid, gid) of each uWSGI worker."""
        assert self.running is not None
        script = (
            "for f in $(grep -l '^uWSGI worker' /proc/[0-9]*/cmdline 2>/dev/null); do d=${f%/cmdline}; "
            "echo ${d#/proc/} $(awk '/^Uid:/{u=$2} /^Gid:/{g=$2} END{print u, g}' $d/status 2>/dev/null); done"
        )
        # Processes that end while the script runs (a health check's) are
        # skipped: stderr apart, and rows without both ids.
        output = self.running.container.exec_run(["sh", "-c", script], stderr=False).output.decode()
        rows = (line.split() for line in output.splitlines())
        return {int(row[0]): (int(row[1]), int(row[2])) for row in rows if len(row) == 3}

    def down(self) -> None:
        compose_down(self.project, self.dir, self.env)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def dev_container(client: docker.DockerClient, images: dict[str, str]) -> Iterator[Callable[[str], DevContainer]]:
    if not DEVCONTAINER_CLI.exists():
        pytest.fail(f"{DEVCONTAINER_CLI} is missing: run `make ci-tools`")
    made: list[DevContainer] = []

    def make(example: str) -> DevContainer:
        made.append(DevContainer(client, example))
        return made[-1]

    yield make
    for container in made:
        container.down()


def view(dc: DevContainer) -> tuple[Path, int, str]:
    """(host file, line of its `return {`, URL path) of the example's view."""
    name, marker = VIEWS[dc.example]
    source = dc.dir / name
    line = next(n for n, text in enumerate(source.read_text().splitlines(), 1) if marker in text)
    return source, line, "/" if dc.example == "hello" else "/api/notes"


@pytest.mark.parametrize("example", NAMES)
def test_devcontainer_up_serves_debugs_reloads_and_execs_as_the_owner(
    dev_container: Callable[[str], DevContainer], example: str
) -> None:
    dc = dev_container(example)
    outcome = dc.up()
    print(f"{example}: devcontainer up took {dc.up_seconds:.2f} s")
    assert (outcome["remoteUser"], outcome["remoteWorkspaceFolder"]) == ("app", "/app")
    assert outcome["composeProjectName"] == dc.project
    app = dc.running
    assert app is not None
    labels = app.container.labels
    assert labels["devcontainer.local_folder"] == str(dc.dir)
    assert labels["com.docker.compose.service"] == "web"
    source, line, path = view(dc)
    assert app.wait_http(path)[0] == 200

    # The terminal VS Code opens, and `devcontainer exec`: app, the owner of
    # the source (the entrypoint named it so), in /app, with the image's Python.
    workers = dc.worker_ids()
    assert set(workers.values()) == {(dc.owner, dc.owner)}, workers
    out = dc.exec("sh", "-c", "id -u; id -g; pwd; command -v python; touch made-in-the-container")
    assert out.split() == [str(dc.owner), str(dc.owner), "/app", "/opt/venv/bin/python"]
    made = dc.dir / "made-in-the-container"
    assert (made.stat().st_uid, made.stat().st_gid) == (dc.owner, dc.owner)

    # launch.json's attach on the published debug port: both workers join
    # the session, and a request stops at the breakpoint in the view.
    app.wait_log(r"^debugpy listening on 0\.0\.0\.0:5678 \(every worker\)$")
    for worker in (1, 2):
        app.wait_log(rf"^debugpy: worker {worker} ready to join the debug session on port 5678$")
    mappings = [{"localRoot": str(dc.dir), "remoteRoot": "/app"}]
    with Session("127.0.0.1", app.ports[5678], mappings, {str(source): [line]}) as session:
        assert {session.wait_joined(), session.wait_joined()} == set(workers)
        results: list[tuple[int, str]] = []
        request = threading.Thread(target=lambda: results.append(http_get(app.url(path), timeout=120)))
        request.start()
        dap, stopped = session.wait_stop()
        frame = dap.top_frame(stopped["threadId"])
        assert (frame["source"]["path"], frame["line"]) == (str(source), line)
        dap.request("continue", {"threadId": stopped["threadId"]})
        request.join(30)
    assert [status for status, _ in results] == [200]

    # HOT_RELOAD: a save on the host is served by the same container.
    text = source.read_text()
    source.write_text(text.replace("return {", 'return {"edited": "yes", ', 1))
    saved = time.monotonic()

    wait_served(app.url(path), '"edited"', 15, "the edited view")
    print(f"{example}: hot reload in the dev container: edit to new response in {time.monotonic() - saved:.2f} s")
    assert app.status() == "running"
