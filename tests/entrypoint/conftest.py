"""Run the entrypoint's functions in bash, on the host, with a fake image layout."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENTRYPOINT = ROOT / "entrypoint" / "docker-entrypoint.sh"


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


class Shell:
    """bash with docker-entrypoint.sh sourced, in a temporary image layout."""

    def __init__(self, root: Path) -> None:
        self.etc = root / "etc"
        self.dropins = root / "docker-entrypoint.d"
        self.app = root / "app"
        for d in (self.etc, self.dropins, self.app):
            d.mkdir()
        (self.etc / "uwsgi.ini").write_text("[uwsgi]\n")
        # The kernel's net.core.somaxconn, as a container sees it on Linux 5.4+.
        self.somaxconn = root / "somaxconn"
        self.somaxconn.write_text("4096\n")

    def make_dev(self) -> None:
        (self.etc / "debug.ini").write_text((ROOT / "uwsgi" / "debug.ini").read_text())

    def run(self, script: str, **env: str) -> Result:
        environ = {
            "PATH": os.environ["PATH"],
            "FLASK_UWSGI_LIB": str(ROOT / "entrypoint"),
            "FLASK_UWSGI_ETC": str(self.etc),
            "FLASK_UWSGI_DROPINS": str(self.dropins),
            "FLASK_UWSGI_APP_INI": str(self.app / "uwsgi.ini"),
            "PRESTART_SCRIPT": str(self.app / "prestart.sh"),
            "FLASK_UWSGI_SOMAXCONN_FILE": str(self.somaxconn),
            **env,
        }
        program = f'. "{ENTRYPOINT}"\n. "$FLASK_UWSGI_LIB/env.sh"\n{script}\n'
        proc = subprocess.run(
            ["bash", "-c", program], env=environ, capture_output=True, text=True, timeout=30, check=False
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    return Shell(tmp_path)
