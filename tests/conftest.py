"""Shared test settings: the project's facts (devkit/project.py, which bench reads too), the shared fixtures."""

from __future__ import annotations

from devkit.project import COMPOSE, DEFAULT_PYTHON, PYTHONS, ROOT, python_versions

# The test modules import the facts from here.
__all__ = ["COMPOSE", "DEFAULT_PYTHON", "PYTHONS", "ROOT", "python_versions"]

# The Docker fixtures (client, images, run, build, readable_dir), for every package.
pytest_plugins = ["tests.support.fixtures"]
