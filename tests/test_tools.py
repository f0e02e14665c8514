"""make venv and make ci-tools install the pinned tools into the clone and
write nothing under HOME: no ~/.cache (pip), ~/.npm (npm), ~/.docker
(Compose), ~/.config, whatever the machine's own configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.tools


def fresh_clone(target: Path) -> Path:
    """The tracked files as they are in this checkout: no .venv, no node_modules."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_make_venv_and_ci_tools_install_into_the_clone_and_write_nothing_under_home(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    # This checkout's download caches (filled by its own make venv and make
    # ci-tools), so that nothing is downloaded again; outside HOME too.
    (ROOT / ".cache").mkdir(exist_ok=True)
    (clone / ".cache").symlink_to(ROOT / ".cache")
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "tmp").mkdir()
    # A user with an empty home; nothing points the tools elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "npm_config_", "NPM_CONFIG_", "PIP_CACHE"))}
    env |= {"HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}
    # Tools on this machine's PATH whose state lives in the real home keep
    # finding it there: rustup's rustc (pip asks it for its version, for its
    # User-Agent) would otherwise create ~/.rustup in the empty one.
    for variable, default in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        if variable not in env and (Path.home() / default).is_dir():
            env[variable] = str(Path.home() / default)

    command = ["make", "-s", "--no-print-directory", "venv", "ci-tools"]
    result = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    # Both installs ran: the venv's tools, and the Node tools as package-lock.json pins them.
    assert "installing the Node tools" in result.stderr
    for tool in ("pytest", "ruff", "docker-compose"):
        assert (clone / ".venv" / "bin" / tool).is_file(), tool
    pins = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    for package, binary in (("@devcontainers/cli", "devcontainer"), ("gitlab-ci-local", "gitlab-ci-local")):
        version = subprocess.run(
            [clone / "node_modules" / ".bin" / binary, "--version"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        assert version == pins[package], binary

    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], f"written under HOME: {written}"
