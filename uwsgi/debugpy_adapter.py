#!/usr/bin/env python3
"""debugpy's debug adapter, as debugpy.listen() starts it, with one race fixed.

uwsgi_debugpy configures debugpy with ``python=`` this file, so that
debugpy.listen() runs ``<this file> <debugpy>/adapter <adapter arguments>``
where it would run ``python <debugpy>/adapter ...``. This file runs that same
adapter, after one change.

That change is debugpy_internals.patch_report_sockets (it says which race it
fixes: without it, one quick re-attach can leave the adapter deaf to every
debugger after it).
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
    from debugpy_internals import patch_report_sockets  # (beside this file: on sys.path)

    patch_report_sockets()
    sys.argv = [argv[1], *argv[2:]]
    runpy.run_module("debugpy.adapter", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv)
