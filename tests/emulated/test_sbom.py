"""The SBOM tests of tests/images, run here on the arm64 images (the images
fixture is theirs), plus what only an arm64 image shows: its Debian
packages are the arm64 builds. `make sbom PLATFORM=linux/arm64` writes these
SBOMs to sbom/py<X.Y>-arm64."""

from __future__ import annotations

import pytest

from tests.images.test_sbom import (  # the same tests, collected here for the arm64 images
    Sbom,
    image_python,
    sboms,
    test_debian_packages_with_libc_and_python,
    test_dev_adds_debugpy_and_supervisor_at_their_pins,
    test_prod_lists_no_debugger_and_no_supervisor,
    test_prod_lists_uwsgi_flask_and_its_dependencies_at_their_pins,
    test_spdx_lists_the_same_packages,
    test_valid_cyclonedx,
)

__all__ = [
    "image_python",
    "sboms",
    "test_debian_packages_with_libc_and_python",
    "test_dev_adds_debugpy_and_supervisor_at_their_pins",
    "test_prod_lists_no_debugger_and_no_supervisor",
    "test_prod_lists_uwsgi_flask_and_its_dependencies_at_their_pins",
    "test_spdx_lists_the_same_packages",
    "test_valid_cyclonedx",
]


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_debian_packages_are_arm64_builds(sboms: dict[str, Sbom], variant: str) -> None:
    debs = sboms[variant].debs()
    arches = {purl.split("arch=")[1].split("&")[0] for purl in debs.values() if "arch=" in purl}
    assert arches <= {"arm64", "all"} and "arm64" in arches, arches
    assert "arch=arm64" in debs["libc6"], debs["libc6"]
