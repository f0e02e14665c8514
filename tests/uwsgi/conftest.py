"""Import the modules in uwsgi/ as tests see them: outside uWSGI, no side effects."""

from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "uwsgi"))
