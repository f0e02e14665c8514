"""The GitLab pipeline: valid for GitLab, and shaped as promised.

Host-side only: nothing here builds, pushes or runs a pipeline (make ci-local does).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci.local_pipeline import derive, load
from tests.conftest import DEFAULT_PYTHON, PYTHONS, ROOT

PIPELINE_FILE = ROOT / ".gitlab-ci.yml"
PIPELINE = load(PIPELINE_FILE.read_text())
BIN = Path(sys.executable).parent
KEYWORDS = {"include", "workflow", "stages", "variables", "default"}


def job(name: str) -> dict[str, Any]:
    """A job with its `extends` applied (GitLab's deep merge, later wins)."""

    def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merged(out[key], value) if both else value
        return out

    definition = PIPELINE[name]
    parents = definition.get("extends", [])
    result: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        result = merged(result, job(parent))
    return merged(result, {k: v for k, v in definition.items() if k != "extends"})


def jobs() -> dict[str, dict[str, Any]]:
    return {name: job(name) for name in PIPELINE if name not in KEYWORDS and not name.startswith(".")}


def matrix_pythons(definition: dict[str, Any]) -> list[str]:
    return [v for entry in definition["parallel"]["matrix"] for v in entry.get("PYTHON_VERSION", [])]


# --------------------------------------------------------------- GitLab's rules:if, the subset used here
def evaluate(expression: str, env: dict[str, str]) -> bool:
    """GitLab's rules:if for what this file uses: $VAR, ==, !=, =~ /re/, &&, ||."""

    def value(token: str) -> str | None:
        if token.startswith("$"):
            return env.get(token[1:]) or None
        return token.strip("\"'")

    def term(text: str) -> bool:
        text = text.strip()
        if match := re.fullmatch(r"(\$\w+)\s*=~\s*/(.*)/", text):
            return re.search(match[2], value(match[1]) or "") is not None
        if match := re.fullmatch(r"(\S+)\s*(==|!=)\s*(\S+)", text):
            equal = value(match[1]) == value(match[3])
            return equal if match[2] == "==" else not equal
        assert re.fullmatch(r"\$\w+", text), f"unsupported rules:if term {text!r}"
        return value(text) is not None

    return any(all(term(t) for t in part.split("&&")) for part in expression.split("||"))


def runs(rules: list[dict[str, Any]], env: dict[str, str]) -> bool:
    for rule in rules:
        if "if" not in rule or evaluate(rule["if"], env):
            return rule.get("when", "on_success") != "never"
    return False


CONTEXTS = {
    "merge request": {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"},
    "branch with an MR": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "topic", "CI_OPEN_MERGE_REQUESTS": "x!7"},
    "other branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "topic"},
    "default branch": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
    "scheduled default branch": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"},
    "version tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.3"},
    "other tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "nightly"},
}


def planned(context: str) -> set[str]:
    env = {"CI_DEFAULT_BRANCH": "main", **CONTEXTS[context]}
    if not runs(PIPELINE["workflow"]["rules"], env):
        return set()
    return {name for name, definition in jobs().items() if runs(definition.get("rules", [{}]), env)}


# --------------------------------------------------------------- tests
def test_gitlab_schema_accepts_the_pipeline() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", PIPELINE_FILE],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_schema_accepts_the_local_pipeline(tmp_path: Path) -> None:
    local, _ = derive(load(PIPELINE_FILE.read_text()), ["3.11"])
    path = tmp_path / "local.gitlab-ci.yml"
    path.write_text(json.dumps(local))
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", path],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_versions_are_python_versions() -> None:
    assert PIPELINE["variables"]["DEFAULT_PYTHON"] == DEFAULT_PYTHON
    assert PIPELINE["variables"]["JOB_IMAGE"].startswith(f"python:{DEFAULT_PYTHON}.")
    assert matrix_pythons(PIPELINE[".pythons"]) == PYTHONS


def test_stages() -> None:
    assert PIPELINE["stages"] == ["lint", "build", "test", "scan", "release"]
    used = {definition["stage"] for definition in jobs().values()}
    assert used == set(PIPELINE["stages"])


def test_build_covers_every_python_and_both_variants() -> None:
    prod, dev = job("build:prod"), job("build:dev")
    assert matrix_pythons(prod) == PYTHONS
    assert matrix_pythons(dev) == PYTHONS
    assert prod["script"] == ["scripts/ci.sh build prod"]
    assert dev["script"] == ["scripts/ci.sh build dev"]
    # dev is built FROM this pipeline's prod image.
    assert dev["needs"] == ["build:prod"]
    assert "ARG PROD_IMAGE" in (ROOT / "Dockerfile.dev").read_text()


def test_build_engine_is_pinned_and_not_kaniko() -> None:
    build = job("build:prod")
    assert re.fullmatch(r"docker:\d+\.\d+\.\d+-cli", build["image"])
    assert [s["name"] for s in build["services"]] == [build["image"].replace("-cli", "-dind")]
    assert "kaniko" not in PIPELINE_FILE.read_text().lower()
    for name in ("BUILDKIT_IMAGE", "BINFMT_IMAGE", "JOB_IMAGE"):
        assert re.search(r":v?(qemu-v)?\d+\.\d+\.\d+", PIPELINE["variables"][name]), name
    assert PIPELINE["variables"]["BUILD_PLATFORMS"] == "linux/amd64,linux/arm64"


def test_per_commit_tags() -> None:
    tags = PIPELINE[".tags"]["variables"]
    assert tags["PROD_IMAGE"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA-py$PYTHON_VERSION"
    assert tags["DEV_IMAGE"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA-py$PYTHON_VERSION-dev"


def test_test_job_uses_the_built_images_and_reports() -> None:
    test = job("test")
    assert matrix_pythons(test) == PYTHONS
    assert set(test["needs"]) == {"build:prod", "build:dev"}
    command = " ".join(test["script"])
    assert "make test BUILD=0" in command
    assert 'PROD_IMAGE="$PROD_IMAGE"' in command and 'DEV_IMAGE="$DEV_IMAGE"' in command
    reports = test["artifacts"]["reports"]
    assert reports["junit"] == "report.xml"
    assert reports["coverage_report"] == {"coverage_format": "cobertura", "path": "coverage.xml"}
    assert "--junitxml=report.xml" in command and "--cov-report=xml:coverage.xml" in command


def test_lint_reports() -> None:
    assert job("hadolint")["artifacts"]["reports"]["codequality"] == "gl-code-quality-hadolint.json"
    assert job("ruff")["artifacts"]["reports"]["codequality"] == "gl-code-quality-ruff.json"
    assert {name for name, d in jobs().items() if d["stage"] == "lint"} == {"hadolint", "shellcheck", "ruff"}


def test_container_scanning_scans_both_variants() -> None:
    assert {"template": "Jobs/Container-Scanning.gitlab-ci.yml"} in PIPELINE["include"]
    scan = job("container_scanning")
    assert scan["stage"] == "scan"
    assert scan["parallel"]["matrix"] == [{"VARIANT": ["prod", "dev"]}]
    assert scan["variables"]["CS_IMAGE"] == "$PROD_IMAGE"
    dev_rule = next(rule for rule in scan["rules"] if rule.get("if") == '$VARIANT == "dev"')
    assert dev_rule["variables"]["CS_IMAGE"] == "$DEV_IMAGE"


@pytest.mark.parametrize("context", CONTEXTS)
def test_only_the_default_branch_and_version_tags_publish(context: str) -> None:
    plan = planned(context)
    publishing = {name for name in plan if job(name)["stage"] == "release"}
    if context in ("default branch", "version tag"):
        assert publishing == {"release"}
    else:
        assert publishing == set(), f"{context} would publish"
    if context == "merge request":
        assert {"build:prod", "build:dev", "test", "container_scanning"} <= plan


def test_only_release_jobs_write_release_tags() -> None:
    for name, definition in jobs().items():
        lines = " ".join(definition.get("script", []))
        assert ("scripts/ci.sh release" in lines) == (definition["stage"] == "release"), name


# --------------------------------------------------------------- release tags, from the real script
@pytest.fixture
def fake_skopeo(tmp_path: Path) -> Path:
    """A skopeo that records what it is asked to copy."""
    log = tmp_path / "copies"
    tool = tmp_path / "bin" / "skopeo"
    tool.parent.mkdir()
    # It reads the password from stdin as skopeo login does: a pipe into a
    # reader that never reads fails the writer (SIGPIPE) now and then.
    tool.write_text(
        "#!/bin/sh\n"
        '[ "$1" = login ] && cat >/dev/null\n'
        f'[ "$1" = copy ] && echo "$@" >> {shlex.quote(str(log))}\n'
        "exit 0\n"
    )
    tool.chmod(0o755)
    return log


def released(log: Path, python: str, **env: str) -> dict[str, str]:
    """Destination tag -> source, for a release job of PYTHON_VERSION=python."""
    variables = {
        "PATH": f"{log.parent / 'bin'}:{os.environ['PATH']}",
        "CI_REGISTRY": "registry.example",
        "CI_REGISTRY_IMAGE": "registry.example/flask-uwsgi",
        "CI_REGISTRY_USER": "u",
        "CI_REGISTRY_PASSWORD": "p",
        "CI_DEFAULT_BRANCH": "main",
        "DEFAULT_PYTHON": DEFAULT_PYTHON,
        "PYTHON_VERSION": python,
        "PROD_IMAGE": f"registry.example/flask-uwsgi:abc123-py{python}",
        "DEV_IMAGE": f"registry.example/flask-uwsgi:abc123-py{python}-dev",
        **env,
    }
    log.unlink(missing_ok=True)
    subprocess.run([ROOT / "scripts" / "ci.sh", "release"], env=variables, check=True, capture_output=True)
    copies = {}
    for line in log.read_text().splitlines():
        assert "--all" in line.split(), line
        source, destination = line.split()[-2:]
        copies[destination.removeprefix("docker://registry.example/flask-uwsgi:")] = source.split(":")[-1]
    return copies


def test_release_tags_of_the_default_branch(fake_skopeo: Path) -> None:
    py = DEFAULT_PYTHON
    assert released(fake_skopeo, py, CI_COMMIT_BRANCH="main") == {
        py: f"abc123-py{py}",
        f"{py}-dev": f"abc123-py{py}-dev",
        "latest": f"abc123-py{py}",
        "dev": f"abc123-py{py}-dev",
    }
    assert released(fake_skopeo, "3.11", CI_COMMIT_BRANCH="main") == {
        "3.11": "abc123-py3.11",
        "3.11-dev": "abc123-py3.11-dev",
    }


def test_release_tags_of_a_version_tag(fake_skopeo: Path) -> None:
    py = DEFAULT_PYTHON
    assert released(fake_skopeo, py, CI_COMMIT_TAG="v1.2.3") == {
        f"1.2.3-py{py}": f"abc123-py{py}",
        f"1.2.3-py{py}-dev": f"abc123-py{py}-dev",
        "1.2.3": f"abc123-py{py}",
        "1.2.3-dev": f"abc123-py{py}-dev",
    }
    assert released(fake_skopeo, "3.13", CI_COMMIT_TAG="1.2.3") == {
        "1.2.3-py3.13": "abc123-py3.13",
        "1.2.3-py3.13-dev": "abc123-py3.13-dev",
    }


def test_release_refuses_other_refs(fake_skopeo: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as error:
        released(fake_skopeo, DEFAULT_PYTHON, CI_COMMIT_BRANCH="topic")
    assert b"default branch" in error.value.stderr
    assert not fake_skopeo.exists()


# --------------------------------------------------------------- coverage regex, on real output
def gitlab_coverage(pattern: str, log: str) -> str | None:
    """GitLab's reading of `coverage:`: the last match's last group, its first number."""
    assert pattern.startswith("/") and pattern.endswith("/"), pattern
    regex = re.compile(pattern[1:-1])
    found = None
    for line in log.splitlines():
        for match in regex.finditer(line):
            text = match.group(match.lastindex) if match.lastindex else match.group(0)
            number = re.search(r"\d+(\.\d+)?", text)
            found = number.group(0) if number else found
    return found


def test_coverage_regex_reads_the_total_of_a_real_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE", "COVERAGE"))}
    env["COVERAGE_FILE"] = str(tmp_path / ".coverage")
    # Whatever those tests conclude, coverage measures the run; the report is what matters here.
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov", "--cov-report=", "tests/uwsgi"],
        cwd=ROOT, env=env, capture_output=True,
    )  # fmt: skip
    report = subprocess.run(
        [sys.executable, "-m", "coverage", "report"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    total = re.search(r"^TOTAL\s.*?(\d+\.\d)%", report, re.MULTILINE)
    assert total, report
    assert gitlab_coverage(job("test")["coverage"], "collected 40 items\n" + report) == total[1]


@pytest.mark.parametrize(
    ("line", "percent"),
    [
        ("TOTAL                297    118     82      7  58.6%", "58.6"),  # branch coverage
        ("TOTAL                297    118  60%", "60"),  # statements only
        ("TOTAL                297      0     82      0  100.0%   ", "100.0"),
    ],
)
def test_coverage_regex_forms(line: str, percent: str) -> None:
    assert gitlab_coverage(job("test")["coverage"], f"3 passed\n{line}\n") == percent
