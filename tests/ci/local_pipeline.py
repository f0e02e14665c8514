"""The pipeline `make ci-local` runs: .gitlab-ci.yml, less what only GitLab can run.

    python -m tests.ci.local_pipeline PYTHONS < .gitlab-ci.yml > pipeline.yml

Everything is kept as written except:
- template includes (GitLab's own files, fetched from gitlab.com) and the jobs
  built on them (container scanning, whose analyzer image cannot be pulled
  here), and the jobs that read their results (vulnerabilities): nothing
  here pretends to scan;
- services (the dind engine of the build jobs): this machine's engine stands in;
- each PYTHON_VERSION matrix, cut down to PYTHONS (space-separated): the
  versions this machine can build without pulling a base image.
"""

from __future__ import annotations

import sys
from typing import Any

from ruamel.yaml import YAML

# Jobs that the Container-Scanning template defines, and so exist only with it.
TEMPLATE_JOBS = {"container_scanning"}


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    return yaml


def load(text: str) -> dict[str, Any]:
    return _yaml().load(text)


def derive(pipeline: dict[str, Any], pythons: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The local pipeline, and one line per change made to the original."""
    local = dict(pipeline)
    changes: list[str] = []
    includes = local.pop("include", [])
    kept = [item for item in includes if not (isinstance(item, dict) and "template" in item)]
    for item in includes:
        if item not in kept:
            changes.append(f"left out include {item['template']} (GitLab only)")
    if kept:
        local["include"] = kept
    for name in list(local):
        if name in TEMPLATE_JOBS:
            del local[name]
            changes.append(f"left out job {name} (GitLab only)")
    for name, job in list(local.items()):
        needed = (
            {n if isinstance(n, str) else n["job"] for n in job.get("needs", [])} if isinstance(job, dict) else set()
        )
        if needed & TEMPLATE_JOBS:
            del local[name]
            changes.append(f"left out job {name} (it reads {', '.join(sorted(needed & TEMPLATE_JOBS))})")
    for name, job in local.items():
        if isinstance(job, dict) and job.pop("services", None):
            changes.append(f"{name}: no services (this machine's Docker engine stands in)")
        matrix = job.get("parallel", {}).get("matrix", []) if isinstance(job, dict) else []
        for entry in matrix:
            versions = entry.get("PYTHON_VERSION")
            if versions is None:
                continue
            versions = [versions] if isinstance(versions, str) else versions
            wanted = [v for v in versions if v in pythons]
            if not wanted:
                raise SystemExit(f"{name}: PYTHON_VERSION {versions} has none of {pythons}")
            if wanted != versions:
                changes.append(f"{name}: PYTHON_VERSION {', '.join(wanted)} of {', '.join(versions)}")
            entry["PYTHON_VERSION"] = wanted
    return local, changes


def main() -> None:
    pythons = sys.argv[1].split()
    local, changes = derive(load(sys.stdin.read()), pythons)
    for change in changes:
        print(f"flask-uwsgi: ci-local: {change}", file=sys.stderr)
    _yaml().dump(local, sys.stdout)


if __name__ == "__main__":
    main()
