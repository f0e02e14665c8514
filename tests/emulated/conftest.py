"""tests/emulated: the arm64 images, built on this machine for linux/arm64 and
run under QEMU user emulation (make test-arm64; scripts/emulation.sh).

Emulation runs each arm64 instruction in software, several times slower than
a native arm64 host: the tests here check behaviour, never speed, and every
wait is the image tests' one times SLOWER. They run only when asked for, by
`make test-arm64`, which builds the arm64 images first (`pytest tests/emulated`
with BUILD=0, PROD_IMAGE and DEV_IMAGE naming arm64 images works too).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.selection import only_when_asked

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    only_when_asked(config, items, HERE, "emulated")
