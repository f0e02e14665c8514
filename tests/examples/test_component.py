"""examples/notes' pipeline, run here: the CI/CD component through gitlab-ci-local.

The images under test are pushed as the component's base images
(<registry>/flask-uwsgi:<X.Y> and :<X.Y>-dev) into Debian's docker-registry,
started on an ephemeral port of 127.0.0.1 with its data in a temporary folder,
and always stopped. The example becomes an app's own repository (one commit),
derived as tests/support/component_pipeline.py explains (the component's address,
base_image, and what only GitLab runs), and gitlab-ci-local runs its pipeline
of a push to the default branch, in its shell executor: lint, test-image,
test, build and release. Then the reports, the coverage of uWSGI's workers and
the shipped image are checked. Every image pushed or pulled is removed.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from coverage import CoverageData

from tests.conftest import ROOT
from tests.support import component_pipeline as cp
from tests.support.containers import Running, wait_for

GITLAB_CI_LOCAL = ROOT / "node_modules" / ".bin" / "gitlab-ci-local"
REGISTRY = Path("/usr/bin/docker-registry")
# Set it to run the registry on a port of your choice; default: any free one.
PORT = os.environ.get("FLASK_UWSGI_COMPONENT_REGISTRY_PORT")

pytestmark = pytest.mark.image


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registry_up(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1, data in a temporary folder; stopped afterwards."""
    if not REGISTRY.exists():
        pytest.fail(f"{REGISTRY} is missing: `scripts/ci-local.sh tools` installs it (make test does)")
    address = f"127.0.0.1:{PORT or free_port()}"
    assert not registry_up(address), f"something already answers on {address}"
    with tempfile.TemporaryDirectory(prefix="flask-uwsgi-registry-") as folder:
        config = Path(folder) / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {folder}/data\n"
            f"http:\n  addr: {address}\n"
        )
        with (Path(folder) / "registry.log").open("wb") as log:
            process = subprocess.Popen([REGISTRY, "serve", config], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: registry_up(address) or process.poll() is not None, 20, f"docker-registry on {address}")
            assert process.poll() is None, (Path(folder) / "registry.log").read_text()
            yield address
        finally:
            process.terminate()
            process.wait(10)
            subprocess.run(["docker", "logout", address], capture_output=True, check=False)


@pytest.fixture
def registry_images(client: docker.DockerClient, registry: str) -> Iterator[None]:
    """Whatever this test leaves on the engine under the registry's name is removed."""
    yield
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(f"{registry}/"):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag, force=True)


def python_of(image: str) -> str:
    version = "import sys; print('%d.%d' % sys.version_info[:2])"
    command = ["docker", "run", "--rm", "--entrypoint", "python", image, "-c", version]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def push(source: str, destination: str) -> None:
    subprocess.run(["docker", "tag", source, destination], check=True)
    subprocess.run(["docker", "push", "-q", destination], check=True, capture_output=True)
    subprocess.run(["docker", "image", "rm", destination], check=True, capture_output=True)


def tags(registry: str, repository: str) -> set[str]:
    with urllib.request.urlopen(f"http://{registry}/v2/{repository}/tags/list", timeout=10) as response:
        return set(json.load(response)["tags"] or [])


def gitlab_ci_local(project: Path, registry: str) -> subprocess.CompletedProcess[str]:
    """The pipeline of a push to main, with the variables that stand in for GitLab's."""
    # Not the variables of a pipeline this may itself run in (make ci-local's test job).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_", "GCL_", "DOCKER_"))}
    # Overriding these is the point here; gitlab-ci-local warns about each otherwise.
    env["GCL_IGNORE_PREDEFINED_VARS"] = "CI_REGISTRY,CI_REGISTRY_IMAGE,CI_DEFAULT_BRANCH,CI_COMMIT_BRANCH"
    variables = {
        "CI_REGISTRY": registry,
        "CI_REGISTRY_IMAGE": f"{registry}/acme/notes",
        "CI_REGISTRY_USER": "ci-local",
        "CI_REGISTRY_PASSWORD": "ci-local",
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_BRANCH": "main",
        # This machine's engine instead of the jobs' docker:dind service.
        "DOCKER_HOST": "unix:///var/run/docker.sock",
        "DOCKER_TLS_VERIFY": "",
        "DOCKER_CERT_PATH": "",
        "DOCKER_TLS_CERTDIR": "",
    }
    command = [str(GITLAB_CI_LOCAL), "--force-shell-executor", "--no-color", "--max-job-name-padding", "0"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=1200, check=False)


def line_of(path: Path, text: str) -> int:
    (number,) = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return number


def run_outside_tests(data: CoverageData, project: Path) -> tuple[int, int]:
    """Lines inside notes' functions that ran with no test on the stack, and all such lines.

    Module-level lines run at import in every process; lines inside functions
    run outside a test only in the integration test's processes.
    """
    ran = total = 0
    for path in sorted((project / "notes").glob("*.py")):
        tree = ast.parse(path.read_text())
        lines = {
            statement.lineno
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef)
            for body in function.body
            for statement in ast.walk(body)
            if isinstance(statement, ast.stmt)
        }
        contexts = data.contexts_by_lineno(f"notes/{path.name}")
        total += len(lines)
        ran += sum(1 for line in lines if "" in contexts.get(line, []))
    return ran, total


# A cold run installs ruff and the test tools and builds every layer.
@pytest.mark.timeout(1200)
def test_notes_pipeline_through_the_component(
    images: dict[str, str],
    registry: str,
    registry_images: None,
    run: Callable[..., Running],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert GITLAB_CI_LOCAL.exists(), "gitlab-ci-local is missing: `scripts/ci-local.sh tools` installs it"
    python = python_of(images["prod"])
    assert python_of(images["dev"]) == python
    push(images["prod"], f"{registry}/flask-uwsgi:{python}")
    push(images["dev"], f"{registry}/flask-uwsgi:{python}-dev")
    # The images under test, of whichever Python they are.
    project = cp.prepare(tmp_path / "notes", {"base_image": f"{registry}/flask-uwsgi", "python": python})

    started = time.monotonic()
    result = gitlab_ci_local(project, registry)
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\nflask-uwsgi: notes' pipeline (gitlab-ci-local, lint to release) took {seconds:.0f} s")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    for name in ("lint", "test-image", "test", "build", "release"):
        assert re.search(rf"^ PASS +{name}\b", log, re.MULTILINE), f"{name} did not pass:\n{log[-4000:]}"

    # The tests ran as the prod image's user (uid 10001), not as the dev image's root.
    assert {(project / name).stat().st_uid for name in ("junit.xml", "coverage.xml", ".coverage")} == {10001}
    # JUnit: every test ran, the one under uWSGI included.
    # The reports are this run's own (S314 is about XML from strangers).
    suite = ET.parse(project / "junit.xml").getroot()  # noqa: S314
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    assert counts["tests"] >= 9 and counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
    names = {case.get("name") for case in suite.iter("testcase")}
    assert "test_served_by_uwsgi_and_stopped_gracefully" in names

    # Cobertura: readable, its sources absolute in the checkout (GitLab's MR diff needs that).
    cobertura = ET.parse(project / "coverage.xml").getroot()  # noqa: S314
    assert [s.text for s in cobertura.iter("source")] == [str(project / "notes")]
    assert {c.get("filename") for c in cobertura.iter("class")} >= {"api.py", "db.py", "health.py"}

    # The job's coverage: regex reads the TOTAL line the job printed (as GitLab
    # would), and gitlab-ci-local shows the same.
    regex = cp.jobs()["test"]["coverage"].strip("/")
    test_log = (project / ".gitlab-ci-local" / "output" / "test.log").read_text()
    matches = [m.group(1) for line in test_log.splitlines() for m in re.finditer(regex, line)]
    assert matches, test_log[-3000:]
    percent = float(matches[-1])
    assert percent >= 90, test_log[-3000:]
    assert re.search(rf"PASS +test +{matches[-1]}% coverage", log), log[-2000:]
    combined = re.search(r"Combined (\d+) files", test_log)
    assert combined and int(combined[1]) >= 3, test_log[-3000:]  # pytest, two workers, prestart

    # Lines that only a request reaches, run outside any test function: by
    # uWSGI's workers (dynamic_context = test_function records the test, if any).
    data = CoverageData(str(project / ".coverage"))
    data.read()
    api = project / "notes" / "api.py"
    by_line = data.contexts_by_lineno("notes/api.py")
    worker_lines = {
        line_of(api, "notes = [dict(row) for row in rows]"),
        line_of(api, "db.commit()"),
    }
    for line in worker_lines:
        assert "" in by_line.get(line, []), f"notes/api.py:{line} was not run by a uWSGI worker: {by_line}"
    in_workers, in_functions = run_outside_tests(data, project)

    # The shipped image: per-commit tag and latest, serves, no debugger, no test tools.
    sha = subprocess.run(["git", "-C", project, "rev-parse", "--short=8", "HEAD"], capture_output=True, text=True)
    app_image = f"{registry}/acme/notes:{sha.stdout.strip()}"
    assert tags(registry, "acme/notes") == {sha.stdout.strip(), "latest"}
    assert sha.stdout.strip() in tags(registry, "acme/notes/test")
    subprocess.run(["docker", "pull", "-q", app_image], check=True, capture_output=True)
    app = run(image=app_image, app=None)
    status, body = app.wait_http("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    for module in ("debugpy", "pytest", "coverage"):
        probe = subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "python", app_image, "-c", f"import {module}"],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, f"{app_image} has {module}"
    listing = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "ls", app_image, "-A", "/app"], capture_output=True, text=True
    ).stdout.split()
    assert "notes" in listing
    leftovers = {"tests", "requirements-test.txt", "junit.xml", "coverage.xml", ".coverage"} & set(listing)
    assert not leftovers and not any(name.startswith("flask-app") for name in listing), listing
    with capsys.disabled():
        print(
            f"flask-uwsgi: notes: {counts['tests']} tests, coverage {percent}%; run outside any test"
            f" (uWSGI's workers, prestart.sh): {in_workers} of the {in_functions} lines in notes' functions"
        )
