"""Every variable the images read is documented, with the same default, in env.sh and the README."""

from __future__ import annotations

import re

from tests.conftest import ROOT

ENV_SH = (ROOT / "entrypoint" / "env.sh").read_text()
README = (ROOT / "README.md").read_text()


def env_sh_defaults() -> dict[str, str]:
    return dict(re.findall(r'^: "\$\{([A-Z_]+):=([^}]*)\}"$', ENV_SH, re.MULTILINE))


def readme_rows() -> dict[str, str]:
    """The runtime contract's variable table (the build table has variables too)."""
    contract = README.split("\n## Runtime contract\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \|", contract, re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def test_every_variable_in_env_sh_is_in_the_readme_table_with_its_default() -> None:
    defaults = env_sh_defaults()
    rows = readme_rows()
    assert defaults, "no defaults found in env.sh"
    for name, default in defaults.items():
        assert name in rows, f"{name} is missing from the README's variable table"
        expected = f"`{default}`" if default else "(empty)"
        assert rows[name] == expected, f"{name}: README says {rows[name]!r}, env.sh {expected!r}"


def test_the_readme_documents_no_variable_that_env_sh_lacks() -> None:
    assert set(readme_rows()) == set(env_sh_defaults())


def test_every_variable_is_exported() -> None:
    exported = set(re.search(r"^export ((?:[A-Z_]+\s*\\?\s*)+)$", ENV_SH, re.MULTILINE).group(1).split()) - {"\\"}
    assert exported == set(env_sh_defaults())


def test_env_sh_documents_each_default() -> None:
    for name, default in env_sh_defaults().items():
        block = ENV_SH.split(f': "${{{name}:=')[0].rsplit("\n\n", 1)[-1]
        assert f"# {name}:" in block, f"{name} has no description in env.sh"
        documented = re.search(r"^# Default: (.*)$", block, re.MULTILINE)
        assert documented, f"{name} has no 'Default:' line in env.sh"
        if default:
            assert documented.group(1) == default
        else:
            assert documented.group(1).startswith("(empty")
