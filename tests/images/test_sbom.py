"""The images' SBOMs (scripts/sbom.sh, as make sbom and the pipeline's sbom job run it).

Written once per run for the images under test, then read: each lists the
Debian and Python packages actually in its image, at the pinned versions, with
package URLs, and is valid CycloneDX.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.conftest import ROOT

DEBUGGER_PACKAGES = ("debugpy", "pydevd", "supervisor")


def pins(name: str) -> dict[str, str]:
    """Package -> version, from a pip-compile'd requirements/NAME.txt."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text()
    found = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.MULTILINE))
    assert found, f"no pins in requirements/{name}.txt"
    return {package.lower(): version for package, version in found.items()}


class Sbom:
    """One image's SBOM files, as scripts/sbom.sh wrote them."""

    def __init__(self, folder: Path, variant: str) -> None:
        self.cdx_text = (folder / f"{variant}.cdx.json").read_text()
        self.cdx = json.loads(self.cdx_text)
        self.spdx = json.loads((folder / f"{variant}.spdx.json").read_text())
        self.components: list[dict[str, Any]] = self.cdx["components"]

    def pypi(self) -> dict[str, str]:
        """Python packages: name -> version, each checked against its purl."""
        found = {}
        for component in self.components:
            purl = component.get("purl", "")
            if purl.startswith("pkg:pypi/"):
                name, version = component["name"].lower(), component["version"]
                assert purl == f"pkg:pypi/{name}@{version}", component
                found[name] = version
        return found

    def debs(self) -> dict[str, str]:
        return {c["name"]: c["purl"] for c in self.components if c.get("purl", "").startswith("pkg:deb/")}

    def spdx_purls(self) -> set[str]:
        return {
            ref["referenceLocator"]
            for package in self.spdx["packages"]
            for ref in package.get("externalRefs", [])
            if ref["referenceType"] == "purl"
        }


@pytest.fixture(scope="session")
def sboms(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sbom]:
    """Both images' SBOMs, written once for the whole run (about 10 s)."""
    folder = tmp_path_factory.mktemp("sbom")
    env = {**os.environ, "PROD_IMAGE": images["prod"], "DEV_IMAGE": images["dev"]}
    env.update(SBOM_DIR=str(folder), SBOM_SOURCE="docker")
    result = subprocess.run([ROOT / "scripts" / "sbom.sh"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # One summary line per image, with its component count.
    assert re.search(r"sbom: .*: \d+ components: \d+ deb, \d+ pypi", result.stderr), result.stderr
    return {variant: Sbom(folder, variant) for variant in ("prod", "dev")}


@pytest.fixture(scope="session")
def image_python(client: docker.DockerClient, images: dict[str, str]) -> Iterator[str]:
    """X.Y of the images' python3."""
    out = client.containers.run(
        images["prod"], ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], entrypoint="python3", remove=True
    )
    yield out.decode().strip()


def test_prod_lists_uwsgi_flask_and_its_dependencies_at_their_pins(sboms: dict[str, Sbom]) -> None:
    listed = sboms["prod"].pypi()
    wanted = pins("prod")
    assert {"uwsgi", "flask"} <= wanted.keys()
    assert {name: listed.get(name) for name in wanted} == wanted


def test_prod_lists_no_debugger_and_no_supervisor(sboms: dict[str, Sbom]) -> None:
    prod = sboms["prod"]
    names = [f"{c['name']} {c.get('purl', '')}".lower() for c in prod.components]
    names += [p["name"].lower() for p in prod.spdx["packages"]]
    assert [n for n in names if any(word in n for word in DEBUGGER_PACKAGES)] == []


def test_dev_adds_debugpy_and_supervisor_at_their_pins(sboms: dict[str, Sbom]) -> None:
    listed = sboms["dev"].pypi()
    wanted = {**pins("prod"), **pins("dev"), **pins("supervisor")}
    assert {"debugpy", "supervisor"} <= wanted.keys()
    assert {name: listed.get(name) for name in wanted} == wanted
    # dev is prod plus these: the same Python packages otherwise.
    assert listed.keys() - sboms["prod"].pypi().keys() == set(pins("dev")) | set(pins("supervisor"))


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_valid_cyclonedx(sboms: dict[str, Sbom], variant: str) -> None:
    sbom = sboms[variant]
    assert sbom.cdx["bomFormat"] == "CycloneDX"
    error = JsonStrictValidator(SchemaVersion.from_version(sbom.cdx["specVersion"])).validate_str(sbom.cdx_text)
    assert error is None, error


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_spdx_lists_the_same_packages(sboms: dict[str, Sbom], variant: str) -> None:
    sbom = sboms[variant]
    assert sbom.spdx["spdxVersion"] == "SPDX-2.3"
    # The SPDX document also names the image itself (pkg:oci); the packages are the same.
    packages = ("pkg:deb/", "pkg:pypi/")
    cdx_purls = {c["purl"] for c in sbom.components if c.get("purl", "").startswith(packages)}
    assert cdx_purls == {purl for purl in sbom.spdx_purls() if purl.startswith(packages)}


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_debian_packages_with_libc_and_python(sboms: dict[str, Sbom], variant: str, image_python: str) -> None:
    debs = sboms[variant].debs()
    assert len(debs) > 20, debs
    assert debs["libc6"].startswith("pkg:deb/debian/libc6@"), debs["libc6"]
    # Debian's own Python (the offline bases): libpythonX.Y and pythonX.Y are
    # Debian packages. The official python:X.Y-slim builds Python from source
    # into /usr/local, which syft recognises by its binary instead.
    debian_python = {f"libpython{image_python}", f"python{image_python}"} & debs.keys()
    binary_python = [
        c
        for c in sboms[variant].components
        if c["name"] == "python" and c.get("purl", "").startswith(f"pkg:generic/python@{image_python}.")
    ]
    assert debian_python or binary_python, f"no Python {image_python} among the packages"
