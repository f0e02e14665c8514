"""The CI/CD component (templates/flask-app.yml) and an app's pipeline that includes it.

A component file is two YAML documents: the `spec:` header (its inputs),
then `---` and the jobs. This module reads both, fills in inputs as GitLab
does, and derives the project that tests/examples/test_component.py runs with
gitlab-ci-local. What the local run changes, and why:

- the app's `include: component:` address points at the current project at
  the current commit (`$CI_SERVER_FQDN/$CI_PROJECT_PATH/flask-app@$CI_COMMIT_SHA`),
  the one form gitlab-ci-local resolves offline: it reads the component from
  the project's templates/, where a copy of the component is put;
- the `base_image` and `python` inputs point at the images under test, in a
  registry on 127.0.0.1; every other input is the example's own;
- the copy of the component leaves out GitLab's Container-Scanning template
  (fetched from gitlab.com, its analyzer image cannot be pulled here) and its
  job, and the jobs' services (the docker:dind engine): this machine's engine
  stands in, through DOCKER_HOST.
Everything else runs as written, in gitlab-ci-local's shell executor.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.conftest import ROOT

COMPONENT = ROOT / "templates" / "flask-app.yml"
NOTES = ROOT / "examples" / "notes"
# The component as a project file of the app's own project, at its commit.
LOCAL_ADDRESS = "$CI_SERVER_FQDN/$CI_PROJECT_PATH/flask-app@$CI_COMMIT_SHA"
TEMPLATE_JOBS = {"container_scanning"}
INPUT = re.compile(r"\$\[\[\s*inputs\.(\w+)\s*\]\]")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096  # no folding of long script lines
    return yaml


def split(text: str) -> tuple[str, str]:
    """The spec document and the jobs document of a component file."""
    spec, separator, jobs = text.partition("\n---\n")
    assert separator, "a component file is `spec:`, then `---`, then the jobs"
    return spec, jobs


def spec(text: str | None = None) -> dict[str, Any]:
    return dict(YAML(typ="safe").load(split(text or COMPONENT.read_text())[0])["spec"])


def inputs(text: str | None = None) -> dict[str, dict[str, Any]]:
    return dict(spec(text)["inputs"])


def interpolate(text: str, values: dict[str, Any]) -> str:
    """The jobs document with every `$[[ inputs.NAME ]]` filled in (defaults, then values)."""
    declared = inputs(text)
    given = {name: declared[name].get("default") for name in declared} | values
    unknown = set(values) - set(declared)
    assert not unknown, f"inputs not in the component's spec: {unknown}"

    def value(match: re.Match[str]) -> str:
        result = given[match[1]]
        assert result is not None, f"input {match[1]} has no default and was not given"
        return str(result)

    return INPUT.sub(value, split(text)[1])


def jobs(text: str | None = None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(YAML(typ="safe").load(interpolate(text or COMPONENT.read_text(), values or {})))


def local_component(text: str) -> str:
    """The component less what only GitLab runs (see the module's docstring)."""
    spec_text, jobs_text = split(text)
    yaml = _yaml()
    document = yaml.load(jobs_text)
    document["include"] = [
        item for item in document.get("include", []) if not (isinstance(item, dict) and "template" in item)
    ]
    if not document["include"]:
        del document["include"]
    for name in TEMPLATE_JOBS:
        document.pop(name, None)
    for job in document.values():
        if isinstance(job, dict):
            job.pop("services", None)
    out = io.StringIO()
    yaml.dump(document, out)
    return f"{spec_text}\n---\n{out.getvalue()}"


def app_include(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The app pipeline's include of the component (exactly one)."""
    (include,) = [item for item in pipeline["include"] if "component" in item or "project" in item]
    return include


def local_app_pipeline(text: str, inputs: dict[str, str]) -> str:
    """The app's .gitlab-ci.yml, its component include resolvable offline, `inputs` set."""
    yaml = _yaml()
    pipeline = yaml.load(text)
    include = app_include(pipeline)
    assert re.search(r"/flask-app@[^/@]+$", include["component"]), include["component"]
    include["component"] = LOCAL_ADDRESS
    include.setdefault("inputs", {}).update(inputs)
    out = io.StringIO()
    yaml.dump(pipeline, out)
    return out.getvalue()


def prepare(project: Path, inputs: dict[str, str], example: Path = NOTES) -> Path:
    """An app's own repository in `project`: the example at its root, with the
    component in templates/, both derived for the local run; one commit."""
    shutil.copytree(example, project, ignore=shutil.ignore_patterns("kubernetes", "__pycache__", ".pytest_cache"))
    (project / "templates").mkdir()
    (project / "templates" / "flask-app.yml").write_text(local_component(COMPONENT.read_text()))
    pipeline = project / ".gitlab-ci.yml"
    pipeline.write_text(local_app_pipeline(pipeline.read_text(), inputs))
    git = ["git", "-C", str(project), "-c", "user.name=flask-uwsgi", "-c", "user.email=flask-uwsgi@example.com"]
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "notes"],
        # gitlab-ci-local derives CI_SERVER_FQDN and CI_PROJECT_PATH from it.
        ["remote", "add", "origin", "git@gitlab.example.com:acme/notes.git"],
    ):
        subprocess.run([*git, *command], check=True, capture_output=True)
    return project
