#!/usr/bin/env python3
"""debugpy's debug adapter, as debugpy.listen() starts it, with two races fixed.

uwsgi_debugpy configures debugpy with ``python=`` this file, so that
debugpy.listen() runs ``<this file> <debugpy>/adapter <adapter arguments>``
where it would run ``python <debugpy>/adapter ...``. This file runs that same
adapter, after two changes, each in debugpy_internals_adapter (which says
which race it fixes): patch_report_sockets (without it, one quick re-attach
can leave the adapter deaf to every debugger after it) and
patch_attach_waits_for_its_server (without it, a debugger attaching while
the previous session ends is refused).
"""

from __future__ import annotations

import os
import runpy
import sys


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not os.path.isdir(argv[1]):
        sys.exit(f"usage: {os.path.basename(argv[0])} <debugpy>/adapter [adapter arguments]")
    # The directory holding the debugpy package this adapter belongs to.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(argv[1]))))
    import debugpy  # noqa: F401  (before the adapter's own sys.path fix-up, which it then skips)
    from debugpy_internals_adapter import patch_attach_waits_for_its_server, patch_report_sockets  # (beside this file)

    patch_report_sockets()
    patch_attach_waits_for_its_server()
    sys.argv = [argv[1], *argv[2:]]
    runpy.run_module("debugpy.adapter", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv)
