"""The GitLab pipeline: valid for GitLab, and shaped as promised.

Host-side only: nothing here builds, pushes or runs a pipeline (make ci-local does).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def resolved(document: dict[str, Any], name: str) -> dict[str, Any]:
    """Job ``name`` of a pipeline document with its `extends` applied (GitLab's deep merge, later wins)."""
    definition = document[name]
    parents = definition.get("extends", [])
    result: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        result = _merged(result, resolved(document, parent))
    return _merged(result, {k: v for k, v in definition.items() if k != "extends"})


def job(name: str) -> dict[str, Any]:
    """A job of .gitlab-ci.yml with its `extends` applied."""
    return resolved(PIPELINE, name)


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
    "scheduled other branch": {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "topic"},
    "version tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.2.3"},
    "other tag": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "nightly"},
}
PUBLISHING = {"default branch", "scheduled default branch", "version tag"}


def planned(context: str) -> set[str]:
    env = {"CI_DEFAULT_BRANCH": "main", **CONTEXTS[context]}
    if not runs(PIPELINE["workflow"]["rules"], env):
        return set()
    return {name for name, definition in jobs().items() if runs(definition.get("rules", [{}]), env)}


def expand(value: str, env: dict[str, str]) -> str:
    """$VAR references, as GitLab expands job variables."""
    return re.sub(r"\$(\w+)", lambda m: expand(env[m[1]], env) if m[1] in env else m[0], value)


def signing_or_publishing(name: str) -> bool:
    """A job whose script signs or writes release tags."""
    script = " ".join(job(name).get("script", []))
    return "scripts/ci.sh sign" in script or "scripts/ci.sh release" in script


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


def test_the_pipeline_publishes_the_platforms_ci_tests() -> None:
    # .ci/run tests the engine's own platform (make test) and make test-arm64's
    # under QEMU, from the same Dockerfiles the pipeline builds both from.
    test_arm64 = re.search(r"^test-arm64: PLATFORM = (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert test_arm64, "the Makefile's test-arm64 sets no PLATFORM"
    assert "step make test-arm64" in (ROOT / ".ci" / "run").read_text()
    assert set(PIPELINE["variables"]["BUILD_PLATFORMS"].split(",")) == {"linux/amd64", test_arm64.group(1)}


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
    # On GitLab, the whole suite: only make ci-local names test paths.
    assert test["variables"]["TEST_PATHS"] == "" and "$TEST_PATHS" in command


def test_lint_reports() -> None:
    assert job("hadolint")["artifacts"]["reports"]["codequality"] == "gl-code-quality-hadolint.json"
    assert job("ruff")["artifacts"]["reports"]["codequality"] == "gl-code-quality-ruff.json"
    assert {name for name, d in jobs().items() if d["stage"] == "lint"} == {"hadolint", "shellcheck", "ruff"}


def test_container_scanning_scans_both_variants_of_every_python() -> None:
    assert {"template": "Jobs/Container-Scanning.gitlab-ci.yml"} in PIPELINE["include"]
    scan = job("container_scanning")
    assert scan["stage"] == "scan"
    assert scan["parallel"]["matrix"] == [{"PYTHON_VERSION": PYTHONS, "VARIANT": ["prod", "dev"]}]
    assert scan["variables"]["CS_IMAGE"] == "$PROD_IMAGE"
    dev_rule = next(rule for rule in scan["rules"] if rule.get("if") == '$VARIANT == "dev"')
    assert dev_rule["variables"]["CS_IMAGE"] == "$DEV_IMAGE"
    # Each scan keeps its report under its image's name, for `vulnerabilities`.
    assert "gl-container-scanning-report.json" in scan["artifacts"]["paths"]
    assert "gl-container-scanning-report-py*.json" in scan["artifacts"]["paths"]
    assert any("gl-container-scanning-report-py$PYTHON_VERSION-$VARIANT.json" in line for line in scan["after_script"])


@pytest.mark.parametrize("context", CONTEXTS)
def test_only_the_default_branch_its_schedules_and_version_tags_sign_and_publish(context: str) -> None:
    plan = planned(context)
    publishing = {name for name in plan if signing_or_publishing(name)}
    in_release_stage = {name for name in plan if job(name)["stage"] == "release"}
    if context in PUBLISHING:
        assert publishing == {"release"}
        assert in_release_stage == {"release", "vulnerabilities"}
    else:
        assert publishing == set(), f"{context} would sign or publish"
        assert in_release_stage == set(), context
    if context == "merge request":
        assert {"build:prod", "build:dev", "test", "container_scanning", "sbom"} <= plan


def test_the_schedule_rebuilds_tests_scans_signs_and_publishes() -> None:
    assert planned("scheduled default branch") == planned("default branch")
    assert {"build:prod", "build:dev", "test", "container_scanning", "sbom", "release"} <= planned(
        "scheduled default branch"
    )


def test_merge_requests_never_sign_or_publish() -> None:
    for name in planned("merge request"):
        assert not signing_or_publishing(name), name
        assert "id_tokens" not in job(name), name


def test_only_the_release_job_signs_and_writes_release_tags() -> None:
    assert {name for name in jobs() if signing_or_publishing(name)} == {"release"}
    # Signing comes first: no release tag ever points at an unsigned digest.
    assert job("release")["script"] == ["scripts/ci.sh sign", "scripts/ci.sh release"]


def test_release_job_gets_a_sigstore_id_token() -> None:
    assert job("release")["id_tokens"] == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    assert [name for name in jobs() if "id_tokens" in job(name)] == ["release"]
    assert {"sbom", "test"} <= set(job("release")["needs"])


def test_sbom_job_reports_cyclonedx() -> None:
    sbom = job("sbom")
    assert sbom["stage"] == "scan"
    assert matrix_pythons(sbom) == PYTHONS
    assert set(sbom["needs"]) == {"build:prod", "build:dev"}
    assert sbom["script"] == ["scripts/ci.sh sbom"]
    assert sbom["artifacts"]["reports"]["cyclonedx"] == ["sbom/*/*.cdx.json"]
    assert sbom["artifacts"]["paths"] == ["sbom/"]


def test_vulnerabilities_job_reads_every_scan_and_may_fail() -> None:
    gate = job("vulnerabilities")
    assert gate["stage"] == "release"
    assert gate["allow_failure"] is True
    assert gate["needs"] == [{"job": "container_scanning", "artifacts": True}]
    assert gate["script"] == ["scripts/ci.sh scan-findings"]
    assert gate["rules"][0] == {"if": "$CONTAINER_SCANNING_DISABLED", "when": "never"}


# --------------------------------------------------------------- release and sign, from the real script
# A stand-in registry for skopeo: an image's manifest is a single image's
# naming the tag it was pushed as (IMAGE_MANIFEST), or what a test stored for
# the tag (push_index); copied as is, so a copy has its source's digest.
IMAGE_MANIFEST = '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "tag": "%s"}'
FAKE_SKOPEO = """\
import hashlib, os, pathlib, sys
state = pathlib.Path(os.environ["FAKE_STATE"])
args = sys.argv[1:]
tags = state / "tags"
tags.mkdir(exist_ok=True)

def manifest(ref):
    stored = tags / ref.removeprefix("docker://").replace("/", "%")
    return stored.read_text() if stored.exists() else IMAGE_MANIFEST % ref.removeprefix("docker://")

if args[0] == "copy":
    with open(state / "copies", "a") as log:
        log.write(" ".join(args) + "\\n")
    source, destination = args[-2:]
    changed = " (converted)" if os.environ.get("FAKE_COPY_CHANGES") else ""
    (tags / destination.removeprefix("docker://").replace("/", "%")).write_text(manifest(source) + changed)
elif args[0] == "login":
    sys.stdin.read()  # the password, as skopeo reads it (else the writer may get SIGPIPE)
elif args[0] == "inspect":
    print(manifest(args[-1]), end="")
elif args[0] == "manifest-digest":
    print("sha256:" + hashlib.sha256(pathlib.Path(args[1]).read_bytes()).hexdigest())
"""


# What GitLab's id_tokens gives the release job; sign only checks that it is there.
ID_TOKEN = {"SIGSTORE_ID_TOKEN": "stand-in"}
PLATFORMS = PIPELINE["variables"]["BUILD_PLATFORMS"]
REPOSITORY = "registry.example/flask-uwsgi"


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def digest(ref: str) -> str:
    """The stand-in registry's digest of a pushed tag."""
    return sha256(IMAGE_MANIFEST % ref)


def push_index(state: Path, ref: str, platforms: str = PLATFORMS) -> tuple[str, dict[str, str]]:
    """Store for tag ``ref`` an index as buildx pushes it: a manifest per
    platform, and the provenance attestation manifest of each (platform
    unknown/unknown). The index's digest, and each platform's manifest's."""
    manifests = {platform: sha256(f"{ref} {platform}") for platform in platforms.split(",")}
    entries = []
    for platform, image in manifests.items():
        os_name, architecture = platform.split("/")
        entries.append({"digest": image, "platform": {"os": os_name, "architecture": architecture}})
    unknown = {"os": "unknown", "architecture": "unknown"}
    for image in manifests.values():
        entries.append({"digest": sha256(f"{image} provenance"), "platform": unknown})
    index = json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
    (state / "tags").mkdir(exist_ok=True)
    (state / "tags" / ref.replace("/", "%")).write_text(index)
    return sha256(index), manifests


@pytest.fixture
def fake_tools(tmp_path: Path) -> Path:
    """skopeo (above) and cosign (records its arguments) on PATH; their state folder."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "skopeo").write_text(f"#!{sys.executable}\nIMAGE_MANIFEST = {IMAGE_MANIFEST!r}\n{FAKE_SKOPEO}")
    (tools / "cosign").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/cosign\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    return tmp_path


def ci_env(state: Path, python: str, **env: str) -> dict[str, str]:
    per_commit = {
        "CI_REGISTRY_IMAGE": "registry.example/flask-uwsgi",
        "CI_COMMIT_SHORT_SHA": "abc123",
        "PYTHON_VERSION": python,
    }
    return {
        "PATH": f"{state / 'bin'}:{os.environ['PATH']}",
        "FAKE_STATE": str(state),
        "COSIGN": str(state / "bin" / "cosign"),
        "CI_REGISTRY": "registry.example",
        "CI_REGISTRY_USER": "u",
        "CI_REGISTRY_PASSWORD": "p",
        "CI_DEFAULT_BRANCH": "main",
        "DEFAULT_PYTHON": DEFAULT_PYTHON,
        # The per-commit tags exactly as .gitlab-ci.yml's .tags spells them.
        **{name: expand(value, per_commit) for name, value in PIPELINE[".tags"]["variables"].items()},
        **per_commit,
        **env,
    }


def released(state: Path, python: str, **env: str) -> dict[str, str]:
    """Destination tag -> source, for a release job of PYTHON_VERSION=python."""
    (state / "copies").unlink(missing_ok=True)
    subprocess.run(
        [ROOT / "scripts" / "ci.sh", "release"], env=ci_env(state, python, **env), check=True, capture_output=True
    )
    copies = {}
    for line in (state / "copies").read_text().splitlines():
        assert "--all" in line.split(), line
        source, destination = line.split()[-2:]
        copies[destination.removeprefix("docker://registry.example/flask-uwsgi:")] = source.split(":")[-1]
    return copies


def signed(state: Path, python: str, sbom_folders: tuple[str, ...] = (".",), **env: str) -> list[list[str]]:
    """cosign's command lines, for a sign step of PYTHON_VERSION=python with
    SBOM_DIR=sbom, an SBOM of each variant in each of its ``sbom_folders``."""
    sboms = state / "sbom"
    for folder in sbom_folders:
        (sboms / folder).mkdir(parents=True, exist_ok=True)
        for variant in ("prod", "dev"):
            (sboms / folder / f"{variant}.cdx.json").write_text("{}")
    (state / "cosign").unlink(missing_ok=True)
    subprocess.run(
        [ROOT / "scripts" / "ci.sh", "sign"],
        env=ci_env(state, python, SBOM_DIR=str(sboms), **env),
        check=True,
        capture_output=True,
    )
    return [line.split() for line in (state / "cosign").read_text().splitlines()]


def test_release_tags_of_the_default_branch(fake_tools: Path) -> None:
    py = DEFAULT_PYTHON
    assert released(fake_tools, py, CI_COMMIT_BRANCH="main") == {
        py: f"abc123-py{py}",
        f"{py}-dev": f"abc123-py{py}-dev",
        "latest": f"abc123-py{py}",
        "dev": f"abc123-py{py}-dev",
    }
    assert released(fake_tools, "3.11", CI_COMMIT_BRANCH="main") == {
        "3.11": "abc123-py3.11",
        "3.11-dev": "abc123-py3.11-dev",
    }


def test_release_tags_of_a_version_tag(fake_tools: Path) -> None:
    py = DEFAULT_PYTHON
    assert released(fake_tools, py, CI_COMMIT_TAG="v1.2.3") == {
        f"1.2.3-py{py}": f"abc123-py{py}",
        f"1.2.3-py{py}-dev": f"abc123-py{py}-dev",
        "1.2.3": f"abc123-py{py}",
        "1.2.3-dev": f"abc123-py{py}-dev",
    }
    assert released(fake_tools, "3.13", CI_COMMIT_TAG="1.2.3") == {
        "1.2.3-py3.13": "abc123-py3.13",
        "1.2.3-py3.13-dev": "abc123-py3.13-dev",
    }


def test_release_refuses_other_refs(fake_tools: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as error:
        released(fake_tools, DEFAULT_PYTHON, CI_COMMIT_BRANCH="topic")
    assert b"default branch" in error.value.stderr
    assert not (fake_tools / "copies").exists()


def test_a_schedule_releases_what_a_push_does(fake_tools: Path) -> None:
    push = released(fake_tools, DEFAULT_PYTHON, CI_COMMIT_BRANCH="main", CI_PIPELINE_SOURCE="push")
    assert released(fake_tools, DEFAULT_PYTHON, CI_COMMIT_BRANCH="main", CI_PIPELINE_SOURCE="schedule") == push
    assert set(push) == {DEFAULT_PYTHON, f"{DEFAULT_PYTHON}-dev", "latest", "dev"}  # no version tag


def test_release_refuses_a_copy_with_another_digest(fake_tools: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as error:
        released(fake_tools, "3.11", CI_COMMIT_BRANCH="main", FAKE_COPY_CHANGES="1")
    assert b"the signature of sha256:" in error.value.stderr and b"does not cover it" in error.value.stderr


# A single image's manifest: its digest only, whatever BUILD_PLATFORMS says.
@pytest.mark.parametrize("platforms", ["", PLATFORMS])
def test_sign_keyless_signs_and_attests_both_digests(fake_tools: Path, platforms: str) -> None:
    lines = signed(fake_tools, DEFAULT_PYTHON, BUILD_PLATFORMS=platforms, **ID_TOKEN)
    env = ci_env(fake_tools, DEFAULT_PYTHON)
    refs = [f"{REPOSITORY}@{digest(env[name])}" for name in ("PROD_IMAGE", "DEV_IMAGE")]
    sboms = [str(fake_tools / "sbom" / f"{variant}.cdx.json") for variant in ("prod", "dev")]
    assert lines == [
        ["sign", "--yes", refs[0]],
        ["attest", "--yes", "--type", "cyclonedx", "--predicate", sboms[0], refs[0]],
        ["sign", "--yes", refs[1]],
        ["attest", "--yes", "--type", "cyclonedx", "--predicate", sboms[1], refs[1]],
    ]


def test_sign_signs_each_platform_of_an_index_with_its_own_sbom(fake_tools: Path) -> None:
    env = ci_env(fake_tools, DEFAULT_PYTHON)
    sboms = fake_tools / "sbom"

    def attest(sbom: Path, ref: str) -> list[str]:
        return ["attest", "--yes", "--type", "cyclonedx", "--predicate", str(sbom), ref]

    expected = []
    for variant, name in (("prod", "PROD_IMAGE"), ("dev", "DEV_IMAGE")):
        index, manifests = push_index(fake_tools, env[name])
        tag = f"{REPOSITORY}@{index}"
        amd64, arm64 = (f"{REPOSITORY}@{manifests[platform]}" for platform in ("linux/amd64", "linux/arm64"))
        first, arm64_sbom = sboms / f"{variant}.cdx.json", sboms / "linux-arm64" / f"{variant}.cdx.json"
        # The tag's digest as for a single image, then each platform's manifest; no attestation manifest.
        expected += [
            ["sign", "--yes", tag], attest(first, tag),
            ["sign", "--yes", amd64], attest(first, amd64),
            ["sign", "--yes", arm64], attest(arm64_sbom, arm64),
        ]  # fmt: skip
    lines = signed(fake_tools, DEFAULT_PYTHON, (".", "linux-arm64"), BUILD_PLATFORMS=PLATFORMS, **ID_TOKEN)
    assert lines == expected


def sign_error(state: Path, *sbom_folders: str) -> list[str]:
    """The stderr of a sign step (BUILD_PLATFORMS set) that fails, having signed nothing."""
    with pytest.raises(subprocess.CalledProcessError) as error:
        signed(state, "3.11", sbom_folders, BUILD_PLATFORMS=PLATFORMS, **ID_TOKEN)
    assert not (state / "cosign").exists()
    return error.value.stderr.decode().splitlines()


def test_sign_refuses_an_index_without_a_platform(fake_tools: Path) -> None:
    image = ci_env(fake_tools, "3.11")["PROD_IMAGE"]
    push_index(fake_tools, image, platforms="linux/amd64")
    assert sign_error(fake_tools, ".", "linux-arm64") == [
        f"flask-uwsgi: error: the index of {image} has no linux/arm64 manifest (BUILD_PLATFORMS={PLATFORMS})"
    ]


def test_sign_needs_each_platforms_sbom(fake_tools: Path) -> None:
    image = ci_env(fake_tools, "3.11")["PROD_IMAGE"]
    push_index(fake_tools, image)
    missing = fake_tools / "sbom" / "linux-arm64" / "prod.cdx.json"
    assert sign_error(fake_tools, ".") == [
        f"flask-uwsgi: error: {missing} is missing: the SBOM of {image}, linux/arm64 (the sbom job's artifact)"
    ]


def test_sign_with_cosign_key_uses_it_and_no_transparency_log(fake_tools: Path) -> None:
    lines = signed(fake_tools, "3.11", COSIGN_KEY="/keys/cosign.key", REGISTRY_TLS_VERIFY="false")
    assert len(lines) == 4
    for line in lines:
        assert line[1:5] == ["--yes", "--key", "/keys/cosign.key", "--tlog-upload=false"], line
        assert "--allow-http-registry" in line and "--allow-insecure-registry" in line


def test_sign_needs_a_key_or_an_id_token(fake_tools: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as error:
        signed(fake_tools, "3.11")
    assert b"neither COSIGN_KEY nor SIGSTORE_ID_TOKEN is set" in error.value.stderr
    assert len(error.value.stderr.decode().splitlines()) == 1


def test_sign_needs_the_sbom(fake_tools: Path) -> None:
    env = ci_env(fake_tools, "3.11", **ID_TOKEN, SBOM_DIR=str(fake_tools / "nothing"))
    result = subprocess.run([ROOT / "scripts" / "ci.sh", "sign"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{fake_tools}/nothing/prod.cdx.json is missing" in result.stderr


def test_the_scanned_images_are_the_signed_images(fake_tools: Path) -> None:
    """container_scanning's CS_IMAGE, per matrix entry, against the digests sign signs."""
    scan = job("container_scanning")
    scanned = set()
    for entry in scan["parallel"]["matrix"]:
        for python in entry["PYTHON_VERSION"]:
            for variant in entry["VARIANT"]:
                env = {**ci_env(fake_tools, python), "VARIANT": variant}
                variables = dict(scan["variables"])
                rule = next(r for r in scan["rules"] if "if" not in r or evaluate(r["if"], env))
                variables.update(rule.get("variables", {}))
                image = expand(variables["CS_IMAGE"], env)
                scanned.add(f"{image.rsplit(':', 1)[0]}@{digest(image)}")
    signed_refs = {
        line[-1]
        for python in matrix_pythons(job("release"))
        for line in signed(fake_tools, python, **ID_TOKEN)
        if line[0] == "sign"
    }
    assert len(scanned) == 2 * len(PYTHONS)
    assert scanned == signed_refs


# --------------------------------------------------------------- sbom, from the real scripts
# A stand-in for scripts/sbom.sh's syft: each SBOM file it is asked for says
# which image and platform it was read from.
FAKE_SYFT = """\
import json, sys
args = sys.argv[1:]
platform = args[args.index("--platform") + 1] if "--platform" in args else None
for arg in args:
    if arg.startswith(("cyclonedx-json=", "spdx-json=")):
        with open(arg.split("=", 1)[1], "w") as out:
            json.dump({"components": [], "source": args[1], "platform": platform}, out)
"""


@pytest.fixture
def sbom_checkout(tmp_path: Path) -> Path:
    """A checkout with the real scripts and, in its .venv, the stand-in syft."""
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "syft").write_text(f"#!{sys.executable}\n{FAKE_SYFT}")
    (venv / "syft").chmod(0o755)
    (venv / "python").symlink_to(sys.executable)  # sbom.sh counts the components with it
    return tmp_path


def sboms_written(checkout: Path, platforms: str) -> dict[str, tuple[str, str | None]]:
    """What scripts/ci.sh sbom writes under sbom/: file -> (source, platform)."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHON_VERSION": "3.13",
        "PROD_IMAGE": f"{REPOSITORY}:abc123-py3.13",
        "DEV_IMAGE": f"{REPOSITORY}:abc123-py3.13-dev",
        "BUILD_PLATFORMS": platforms,
    }
    subprocess.run([checkout / "scripts" / "ci.sh", "sbom"], env=env, check=True, capture_output=True)
    written = {}
    for path in (checkout / "sbom").rglob("*.json"):
        sbom = json.loads(path.read_text())
        written[str(path.relative_to(checkout / "sbom"))] = (sbom["source"], sbom["platform"])
    return written


def test_sbom_writes_each_platforms_sboms(sbom_checkout: Path) -> None:
    expected = {}
    # The first platform's where GitLab's cyclonedx report (sbom/*/*.cdx.json) reads them.
    for folder, platform in (("py3.13", "linux/amd64"), ("py3.13/linux-arm64", "linux/arm64")):
        for variant, suffix in (("prod", ""), ("dev", "-dev")):
            for kind in ("cdx", "spdx"):
                expected[f"{folder}/{variant}.{kind}.json"] = (f"registry:{REPOSITORY}:abc123-py3.13{suffix}", platform)
    assert sboms_written(sbom_checkout, PLATFORMS) == expected


def test_sbom_without_build_platforms_reads_the_only_one(sbom_checkout: Path) -> None:
    assert sboms_written(sbom_checkout, "") == {
        f"py3.13/{variant}.{kind}.json": (f"registry:{REPOSITORY}:abc123-py3.13{suffix}", None)
        for variant, suffix in (("prod", ""), ("dev", "-dev"))
        for kind in ("cdx", "spdx")
    }


# --------------------------------------------------------------- build: provenance and schedules
@pytest.fixture
def fake_docker(tmp_path: Path) -> Path:
    """A docker that records its arguments (and answers `version` with amd64)."""
    tool = tmp_path / "bin" / "docker"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/docker\n[ "$1" = version ] && echo amd64\nexit 0\n')
    tool.chmod(0o755)
    return tmp_path


def built(state: Path, **env: str) -> list[str]:
    (state / "docker").unlink(missing_ok=True)
    variables = {
        "PATH": f"{state / 'bin'}:{os.environ['PATH']}",
        "CI_REGISTRY_IMAGE": "registry.example/flask-uwsgi",
        "PYTHON_VERSION": "3.13",
        "PROD_IMAGE": "registry.example/flask-uwsgi:abc123-py3.13",
        "DEV_IMAGE": "registry.example/flask-uwsgi:abc123-py3.13-dev",
        "BUILD_PLATFORMS": PIPELINE["variables"]["BUILD_PLATFORMS"],
        "BINFMT_IMAGE": PIPELINE["variables"]["BINFMT_IMAGE"],
        "BUILDKIT_IMAGE": PIPELINE["variables"]["BUILDKIT_IMAGE"],
        **env,
    }
    subprocess.run([ROOT / "scripts" / "ci.sh", "build", "prod"], env=variables, check=True, capture_output=True)
    return (state / "docker").read_text().splitlines()


def test_buildx_build_attaches_provenance(fake_docker: Path) -> None:
    build = [line for line in built(fake_docker) if line.startswith("buildx build")]
    assert len(build) == 1
    args = build[0].split()
    assert "--provenance=mode=max" in args and "--push" in args
    assert "--cache-from" in args and "--no-cache" not in args


def test_a_scheduled_build_uses_no_layer_cache(fake_docker: Path) -> None:
    for line in built(fake_docker, CI_PIPELINE_SOURCE="schedule"):
        if line.startswith(("buildx build", "build ")):
            args = line.split()
            assert "--no-cache" in args and "--pull" in args and "--cache-from" not in args, line
            assert "--provenance=mode=max" in args
    engine = [
        line
        for line in built(fake_docker, CI_PIPELINE_SOURCE="schedule", BUILD_PLATFORMS="", DOCKER_CLIENT="docker")
        if line.startswith("build ")
    ]
    assert len(engine) == 1 and "--no-cache" in engine[0].split() and "--cache-from" not in engine[0].split()


# --------------------------------------------------------------- scan findings
def scan_report(severities: list[str]) -> str:
    return json.dumps(
        {
            "vulnerabilities": [
                {
                    "severity": severity,
                    "identifiers": [{"type": "cve", "name": f"CVE-2026-{n}"}],
                    "location": {"dependency": {"package": {"name": "openssl"}, "version": "3.5.1-1"}},
                    "solution": "Upgrade openssl to 3.5.1-2",
                }
                for n, severity in enumerate(severities)
            ]
        }
    )


def scan_findings(folder: Path, reports: dict[str, list[str]]) -> subprocess.CompletedProcess[str]:
    for name, severities in reports.items():
        (folder / f"gl-container-scanning-report-{name}.json").write_text(scan_report(severities))
    return subprocess.run([folder / "scripts" / "ci.sh", "scan-findings"], capture_output=True, text=True)


@pytest.fixture
def scan_folder(tmp_path: Path) -> Path:
    """A job folder as `vulnerabilities` has it: the checkout's scripts, the scans' reports."""
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "python-versions").symlink_to(ROOT / "python-versions")
    return tmp_path


ALL_IMAGES = [f"py{python}-{variant}" for python in PYTHONS for variant in ("prod", "dev")]


def test_scan_findings_lists_high_and_critical_ones(scan_folder: Path) -> None:
    reports = {name: ["Low", "Medium"] for name in ALL_IMAGES}
    reports[f"py{DEFAULT_PYTHON}-dev"] = ["Critical", "Low", "High"]
    result = scan_findings(scan_folder, reports)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"py{DEFAULT_PYTHON}-dev: Critical CVE-2026-0 in openssl 3.5.1-1 (Upgrade openssl to 3.5.1-2)",
        f"py{DEFAULT_PYTHON}-dev: High CVE-2026-2 in openssl 3.5.1-1 (Upgrade openssl to 3.5.1-2)",
    ]
    assert "error: the published images have High or Critical findings" in result.stderr


def test_scan_findings_passes_without_them(scan_folder: Path) -> None:
    result = scan_findings(scan_folder, {name: ["Low", "Medium", "Unknown"] for name in ALL_IMAGES})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no High or Critical finding in {len(ALL_IMAGES)} scan reports" in result.stderr


def test_scan_findings_fails_on_a_missing_report(scan_folder: Path) -> None:
    result = scan_findings(scan_folder, {name: [] for name in ALL_IMAGES[1:]})
    assert result.returncode == 1
    assert result.stdout.startswith(f"{ALL_IMAGES[0]}: no readable scan report")


# --------------------------------------------------------------- docs/supply-chain.md's verify commands
def readme_block(marker: str) -> str:
    page = (ROOT / "docs" / "supply-chain.md").read_text()
    return page.split(f"<!-- {marker}: start -->", 1)[1].split(f"<!-- {marker}: end -->", 1)[0]


def test_readme_verify_commands_are_the_ones_ci_local_runs() -> None:
    commands = [line for line in readme_block("ci-local verify").splitlines() if line.startswith("cosign ")]
    ran = subprocess.run(
        [ROOT / "scripts" / "ci-local.sh", "verify-commands"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert ran == commands
    verify, attestation = commands
    key_based = '--key "$COSIGN_PUB" --insecure-ignore-tlog=true --allow-http-registry --allow-insecure-registry'
    assert verify == f'cosign verify {key_based} "$IMAGE"'
    assert attestation.startswith(f'cosign verify-attestation {key_based} --type cyclonedx "$IMAGE" | ')
    assert attestation.endswith("| jq -r .payload | base64 -d | jq .predicate")
    # The values the block shows are where make ci-local puts them.
    ci_local = (ROOT / "scripts" / "ci-local.sh").read_text()
    assert 'COSIGN_PUB="$keys/cosign.pub"' in ci_local and 'keys="$state/cosign"' in ci_local
    assert "COSIGN_PUB=.gitlab-ci-local/cosign/cosign.pub" in readme_block("ci-local verify")
    assert "IMAGE=127.0.0.1:5055/flask-uwsgi:latest" in readme_block("ci-local verify")


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
