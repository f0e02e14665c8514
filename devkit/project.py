"""The project's facts, as the Makefile and python-versions state them: for tests/ and bench/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# The pinned Compose v2 (make venv), called by its path: the user's Docker
# configuration (~/.docker/cli-plugins) is left alone.
COMPOSE = os.environ.get("COMPOSE") or str(ROOT / ".venv" / "bin" / "docker-compose")


class PythonVersion(NamedTuple):
    """A row of python-versions."""

    version: str
    eol: str
    suite: str | None  # the Debian suite of the offline base; None: GitLab only
    default: bool


def python_versions() -> list[PythonVersion]:
    rows = []
    for line in (ROOT / "python-versions").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            suite = None if fields[2] == "-" else fields[2]
            rows.append(PythonVersion(fields[0], fields[1], suite, fields[3:] == ["default"]))
    return rows


PYTHONS = [row.version for row in python_versions()]
DEFAULT_PYTHON = next(row.version for row in python_versions() if row.default)
