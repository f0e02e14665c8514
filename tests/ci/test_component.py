"""The CI/CD component and examples/notes' pipeline: valid for GitLab, and shaped as promised.

Host-side only; tests/examples/test_component.py runs the pipeline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.ci.test_gitlab_ci import gitlab_coverage, resolved
from tests.ci.test_gitlab_ci import job as project_job
from tests.conftest import DEFAULT_PYTHON, PYTHONS, ROOT
from tests.support import component_pipeline as cp

BIN = Path(sys.executable).parent
APP_PIPELINE_FILE = cp.NOTES / ".gitlab-ci.yml"
APP_PIPELINE = YAML(typ="safe").load(APP_PIPELINE_FILE.read_text())
APP_INPUTS = cp.app_include(APP_PIPELINE)["inputs"]
STAGES = ["lint", "test", "build", "scan", "release"]
# GitLab's own input types (spec:inputs:type).
TYPES = {"string", "number", "boolean", "array"}


def schema_check(path: Path) -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", path], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def write_json(tmp_path: Path, name: str, document: Any) -> Path:
    # JSON is YAML: the document as loaded, with nothing left to interpretation.
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def job(name: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A component job with its `extends` applied (GitLab's deep merge)."""
    return resolved(cp.jobs(values=values), name)


def visible_jobs(values: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    keywords = {"include", "workflow", "stages", "variables", "default"}
    document = cp.jobs(values=values)
    return {name: job(name, values) for name in document if name not in keywords and not name.startswith(".")}


# --------------------------------------------------------------- GitLab's schema
def test_component_jobs_as_written_pass_gitlab_schema(tmp_path: Path) -> None:
    # The jobs document alone: the spec document is not pipeline syntax.
    path = tmp_path / "jobs.yml"
    path.write_text(cp.split(cp.COMPONENT.read_text())[1])
    schema_check(path)


@pytest.mark.parametrize("values", [{}, APP_INPUTS, {"job_prefix": "notes-", "app_dir": "services/notes"}])
def test_component_jobs_with_inputs_pass_gitlab_schema(tmp_path: Path, values: dict[str, Any]) -> None:
    schema_check(write_json(tmp_path, "jobs.json", cp.jobs(values=values)))


def test_app_pipeline_passes_gitlab_schema() -> None:
    schema_check(APP_PIPELINE_FILE)


def test_local_pipeline_passes_gitlab_schema(tmp_path: Path) -> None:
    app = cp.local_app_pipeline(APP_PIPELINE_FILE.read_text(), {"base_image": "127.0.0.1:5000/flask-uwsgi"})
    schema_check(write_json(tmp_path, "app.json", YAML(typ="safe").load(app)))
    local = cp.local_component(cp.COMPONENT.read_text())
    schema_check(write_json(tmp_path, "jobs.json", cp.jobs(local, APP_INPUTS)))


# --------------------------------------------------------------- the spec's inputs
def test_spec_is_inputs_only_with_described_defaults() -> None:
    assert set(cp.spec()) == {"inputs"}
    for name, definition in cp.inputs().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert set(definition) <= {"description", "default", "type", "options", "regex"}, name
        assert definition.get("type", "string") in TYPES, name
        assert definition.get("description"), f"{name} has no description"
        assert "default" in definition, f"{name} has no default: every include would have to set it"
        if "options" in definition:
            assert definition["default"] in definition["options"], name


def test_every_input_is_used_and_every_use_declared() -> None:
    used = set(cp.INPUT.findall(cp.split(cp.COMPONENT.read_text())[1]))
    assert used == set(cp.inputs())


def test_inputs_follow_the_project() -> None:
    declared = cp.inputs()
    # python-versions: the images that exist, and the default.
    assert declared["python"]["options"] == PYTHONS
    assert declared["python"]["default"] == DEFAULT_PYTHON
    # The tools pinned elsewhere in the project.
    ruff = re.search(r"^ruff==(\S+)", (ROOT / "requirements" / "test.txt").read_text(), re.MULTILINE)
    assert ruff and declared["ruff_version"]["default"] == ruff[1]
    assert project_job("build:prod")["image"] == f"docker:{declared['docker_version']['default']}-cli"
    # Immutable per-commit images in the project's registry by default.
    assert declared["image"]["default"] == "$CI_REGISTRY_IMAGE"
    assert declared["tag"]["default"] == "$CI_COMMIT_SHORT_SHA"
    assert declared["app_dir"]["default"] == "."


def test_app_sets_a_handful_of_known_inputs() -> None:
    assert set(APP_INPUTS) <= set(cp.inputs())
    assert 1 <= len(APP_INPUTS) <= 6
    assert APP_INPUTS["python"] == DEFAULT_PYTHON
    # The example's Dockerfile takes APP_MODULE as an argument, with the same default.
    dockerfile = (cp.NOTES / "Dockerfile").read_text()
    assert f'ARG APP_MODULE="{APP_INPUTS["app_module"]}"' in dockerfile
    assert 'ENV APP_MODULE="${APP_MODULE}"' in dockerfile
    assert "ARG FLASK_UWSGI_IMAGE" in dockerfile
    assert (cp.NOTES / APP_INPUTS["test_requirements"]).is_file()


def test_app_includes_the_component_by_its_catalog_address() -> None:
    include = cp.app_include(APP_PIPELINE)
    assert re.fullmatch(r"\$CI_SERVER_FQDN/[\w.-]+/[\w.-]+/flask-app@\d+\.\d+\.\d+", include["component"])
    # The same file, through `include: project:`, for GitLab before components.
    text = APP_PIPELINE_FILE.read_text()
    assert "file: templates/flask-app.yml" in text and "project:" in text


# --------------------------------------------------------------- jobs
def test_stages_and_order() -> None:
    plan = visible_jobs()
    assert APP_PIPELINE["stages"] == STAGES
    assert {d["stage"] for d in plan.values()} == set(STAGES)
    assert {name: d["stage"] for name, d in plan.items()} == {
        "lint": "lint",
        "test-image": "test",
        "test": "test",
        "build": "build",
        "container_scanning": "scan",
        "release": "release",
    }
    # Nothing ships before the tests pass; the tests run in the image built for them.
    assert "test-image" in plan["test"]["needs"]
    assert {"job": "test", "artifacts": False} in plan["build"]["needs"]


def test_job_prefix_renames_the_jobs_and_their_needs() -> None:
    plan = visible_jobs({"job_prefix": "notes-"})
    assert set(plan) == {"notes-lint", "notes-test-image", "notes-test", "notes-build", "notes-release"} | (
        cp.TEMPLATE_JOBS
    )
    for name, definition in plan.items():
        for need in definition.get("needs", []):
            target = need["job"] if isinstance(need, dict) else need
            assert target in plan, f"{name} needs {target}"


def test_tests_run_in_the_dev_based_test_image() -> None:
    values = {"image": "registry.example/acme/notes", "tag": "abc123", "base_image": "registry.example/fu"}
    variables = job("test-image", values)["variables"]
    assert variables["DEV_BASE"] == f"registry.example/fu:{DEFAULT_PYTHON}-dev"
    assert variables["TEST_IMAGE"] == "registry.example/acme/notes/test:abc123"
    script = "\n".join(job("test-image", values)["script"])
    assert '"FLASK_UWSGI_IMAGE=$DEV_BASE"' in script and 'docker push "$TEST_IMAGE"' in script
    test = job("test", values)
    assert test["image"] == {"name": "registry.example/acme/notes/test:abc123", "entrypoint": [""]}
    # On a shell runner, the same command in a container of the same image, as
    # its user (tests/examples/test_component.py checks it is 10001), not the runner's.
    script = "\n".join(test["script"])
    assert '"$TEST_IMAGE" -c \'umask 0002; eval "$TEST_COMMAND"\'' in script
    assert 'sh -c "$TEST_COMMAND"' in script and "id -u" not in script
    # Never as the dev image's root: the prod image's user unless the app sets its own.
    test_image = "\n".join(job("test-image", values)["script"])
    assert "FLASK_UWSGI_UID" in test_image and '"APP_USER=$user"' in test_image


def test_shipped_image_is_prod_based_per_commit_and_checked() -> None:
    values = {"image": "registry.example/acme/notes", "tag": "abc123", "base_image": "registry.example/fu"}
    build = job("build", values)
    assert build["variables"]["PROD_BASE"] == f"registry.example/fu:{DEFAULT_PYTHON}"
    assert build["variables"]["APP_IMAGE"] == "registry.example/acme/notes:abc123"
    script = "\n".join(build["script"])
    assert '"FLASK_UWSGI_IMAGE=$PROD_BASE"' in script
    assert "import debugpy" in script and "flask-app-test-packages.txt" in script
    assert {"job": "test-image", "artifacts": True} in build["needs"]
    assert script.index("import debugpy") < script.index('docker push "$APP_IMAGE"')


def test_reports_and_coverage() -> None:
    test = job("test", {"app_dir": "services/notes"})
    reports = test["artifacts"]["reports"]
    assert test["artifacts"]["when"] == "always"
    assert reports["junit"] == "services/notes/junit.xml"
    assert reports["coverage_report"] == {"coverage_format": "cobertura", "path": "services/notes/coverage.xml"}
    command = cp.inputs()["test_command"]["default"]
    assert "--junitxml=junit.xml" in command and "coverage xml -o coverage.xml" in command
    assert "coverage combine" in command and "coverage report" in command
    # The same reading of coverage report's TOTAL line as the project's own test job.
    assert test["coverage"] == project_job("test")["coverage"]
    line = "TOTAL                  82      0      8      1  98.9%"
    assert gitlab_coverage(test["coverage"], f"9 passed\nCombined 5 files\n{line}\n") == "98.9"


def test_scan_and_release() -> None:
    document = cp.jobs()
    assert {"template": "Jobs/Container-Scanning.gitlab-ci.yml"} in document["include"]
    scan = job("container_scanning", {"image": "r/acme/notes", "tag": "abc"})
    assert scan["variables"]["CS_IMAGE"] == "r/acme/notes:abc"
    assert scan["needs"] == ["build"]
    release = job("release")
    conditions = [rule["if"] for rule in release["rules"]]
    assert conditions == ["$CI_COMMIT_TAG", "$CI_COMMIT_BRANCH && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"]
    assert [rule["variables"]["RELEASE_TAG"] for rule in release["rules"]] == ["$CI_COMMIT_TAG", "latest"]
    # No other job writes a tag but the per-commit ones.
    for name, definition in visible_jobs().items():
        pushes = [line for line in definition.get("script", []) if "docker push" in line or "docker tag" in line]
        if name != "release":
            assert all("$RELEASE_TAG" not in line for line in pushes), name


# --------------------------------------------------------------- the local run changes little
def test_local_run_changes_only_what_gitlab_alone_runs() -> None:
    original = cp.jobs(values=APP_INPUTS)
    local = cp.jobs(cp.local_component(cp.COMPONENT.read_text()), APP_INPUTS)
    assert set(original) - set(local) == {"include", *cp.TEMPLATE_JOBS}
    for name, definition in local.items():
        expected = {k: v for k, v in original[name].items() if k != "services"}
        assert definition == expected, name
    app = YAML(typ="safe").load(
        cp.local_app_pipeline(APP_PIPELINE_FILE.read_text(), {"base_image": "127.0.0.1:5000/fu", "python": "3.11"})
    )
    include = cp.app_include(app)
    assert include["component"] == cp.LOCAL_ADDRESS
    assert include["inputs"] == {**APP_INPUTS, "base_image": "127.0.0.1:5000/fu", "python": "3.11"}
    assert {k: v for k, v in app.items() if k != "include"} == {k: v for k, v in APP_PIPELINE.items() if k != "include"}


def test_readme_documents_every_input_with_its_default() -> None:
    page = (ROOT / "docs" / "ci.md").read_text()
    section = page[: page.index("\n## The project's own pipeline")]
    for name, definition in cp.inputs().items():
        default = str(definition["default"])
        row = re.search(rf"^\| `{name}` \| (.*?) \|", section, re.MULTILINE)
        assert row, f"docs/ci.md's input table has no row for {name}"
        assert (f"`{default}`" if default else "(empty)") in row[1], f"{name}: default {default!r} not in {row[1]!r}"
