"""python-versions is the one list of Python versions: everything else agrees with it."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import DEFAULT_PYTHON, PYTHONS, ROOT, python_versions

VERSIONS = ROOT / "scripts" / "versions.sh"


def versions_sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VERSIONS, *args], capture_output=True, text=True, check=False)


def test_one_default_and_no_end_of_life_version() -> None:
    rows = python_versions()
    assert [row.version for row in rows if row.default] == [DEFAULT_PYTHON]
    assert PYTHONS == ["3.11", "3.12", "3.13", "3.14", "3.15"]
    assert all(re.fullmatch(r"20\d\d-\d\d", row.eol) for row in rows)


def test_the_scripts_read_the_same_list() -> None:
    assert versions_sh("all").stdout.split() == PYTHONS
    assert versions_sh("default").stdout.strip() == DEFAULT_PYTHON
    assert versions_sh("offline").stdout.split() == [row.version for row in python_versions() if row.suite]
    for row in python_versions():
        assert versions_sh("eol", row.version).stdout.strip() == row.eol
        if row.suite:
            assert versions_sh("suite", row.version).stdout.strip() == row.suite


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suite", "3.12"], "error: no Debian suite ships Python 3.12, so it has no offline base"),
        (["eol", "3.10"], "error: PYTHON_VERSION=3.10 is not supported (python-versions lists: 3.11 3.12"),
    ],
)
def test_versions_without_an_offline_base_fail_in_one_line(args: list[str], message: str) -> None:
    result = versions_sh(*args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_makefile_and_dockerfile_default_to_it() -> None:
    # The Makefile's own default, not the PYTHON_VERSION this run may have
    # been given (a CI test job of another Python), nor an outer make's flags.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_VERSION", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    make = subprocess.run(
        ["make", "-s", "--no-print-directory", "ci-print-PYTHON_VERSION"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert make.stdout.strip() == DEFAULT_PYTHON
    assert f"ARG PYTHON_VERSION={DEFAULT_PYTHON}\n" in (ROOT / "Dockerfile").read_text()


def test_readme_table_is_the_list() -> None:
    readme = (ROOT / "README.md").read_text()
    row_form = re.compile(
        r"^\| (3\.\d+)( \(default[^)]*\))? \| (\d{4}-\d\d) \| `python:\1-slim` \| ([^|]+) \| ([^|]+) \|"
    )
    table = {}
    for line in readme.splitlines():
        if match := row_form.match(line):
            table[match[1]] = (bool(match[2]), match[3], match[4].strip(), match[5].strip())
    assert list(table) == PYTHONS
    for row in python_versions():
        default, eol, offline, tested = table[row.version]
        assert (default, eol) == (row.default, row.eol), row
        if row.suite:
            assert row.suite in offline and tested.startswith("here"), row
        else:
            assert offline == "none" and tested.startswith("GitLab only"), row
