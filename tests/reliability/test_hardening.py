"""The prod image under a read-only root filesystem and an arbitrary non-root user."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.containers import Running

Run = Callable[..., Running]
# /tmp is the one place uWSGI writes (request bodies over 64 KiB).
TMPFS = {"/tmp": ""}  # noqa: S108 (the container's /tmp, a fresh tmpfs)


@pytest.mark.parametrize(
    "options",
    [
        {"user": "12345"},
        {"read_only": True, "tmpfs": TMPFS},
        {"user": "4242:4242", "read_only": True, "tmpfs": TMPFS},
    ],
    ids=["arbitrary-user", "read-only", "both"],
)
def test_arbitrary_user_and_read_only_root(run: Run, options: dict) -> None:
    app = run(**options)
    assert app.wait_http()[0] == 200
    assert app.status() == "running"
    expected_uid = options.get("user", "10001").split(":")[0]
    assert app.exec("id", "-u") == (0, f"{expected_uid}\n")
    # And it stops as cleanly as with the defaults.
    app.container.stop(timeout=10)
    assert app.exit_code() == 0
