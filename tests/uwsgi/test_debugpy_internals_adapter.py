"""What debugpy_internals_adapter.py and debugpy_internals_worker.py (every
non-public debugpy interface) were written for, on the host."""

from __future__ import annotations

import re
import types

import debugpy_internals_adapter
import debugpy_internals_worker
import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("module", [debugpy_internals_adapter, debugpy_internals_worker], ids=lambda m: m.__name__)
def test_written_for_the_pinned_debugpy(module: types.ModuleType) -> None:
    pinned = re.search(r"^debugpy==(\S+)", (ROOT / "requirements" / "dev.txt").read_text(), re.MULTILINE)
    assert pinned and pinned.group(1) == module.WRITTEN_FOR
