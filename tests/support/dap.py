"""The DAP client, under the tests' own name: it lives in devkit/dap.py, where bench uses it too."""

from __future__ import annotations

from devkit.dap import (
    VSCODE_INITIALIZE,
    Breakpoint,
    DAPClient,
    DAPError,
    PortSessions,
    Session,
    Stop,
    connect_with_retry,
    vscode_attach,
)

__all__ = [
    "VSCODE_INITIALIZE",
    "Breakpoint",
    "DAPClient",
    "DAPError",
    "PortSessions",
    "Session",
    "Stop",
    "connect_with_retry",
    "vscode_attach",
]
