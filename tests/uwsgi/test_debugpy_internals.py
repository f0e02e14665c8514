"""What debugpy_internals.py (every non-public debugpy interface) was written for, on the host."""

from __future__ import annotations

import re

import debugpy_internals

from tests.conftest import ROOT


def test_written_for_the_pinned_debugpy() -> None:
    pinned = re.search(r"^debugpy==(\S+)", (ROOT / "requirements" / "dev.txt").read_text(), re.MULTILINE)
    assert pinned and pinned.group(1) == debugpy_internals.WRITTEN_FOR
