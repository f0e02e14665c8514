"""Suites that run only when asked for (tests/reliability, tests/emulated):
their folder or a file in it named on the command line, or their marker in -m."""

from __future__ import annotations

from pathlib import Path

import pytest


def asked_for(config: pytest.Config, folder: Path, marker: str) -> bool:
    if marker in (config.option.markexpr or ""):
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == folder or folder in path.parents:
            return True
    return False


def only_when_asked(config: pytest.Config, items: list[pytest.Item], folder: Path, marker: str) -> None:
    """Mark the items of ``folder`` with ``marker`` (and image), and leave them
    out of the run unless it asked for them."""
    ours = [item for item in items if Path(str(item.fspath)).is_relative_to(folder)]
    for item in ours:
        item.add_marker(getattr(pytest.mark, marker))
        item.add_marker(pytest.mark.image)
    if ours and not asked_for(config, folder, marker):
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]
