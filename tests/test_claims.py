"""Every figure the README and docs/ state has a source that is checked.

A figure is a number with a unit or a ratio (``60 s``, ``32 KiB``, ``0.85x``,
``15%``) in a page's prose: code, links and the block ``make bench`` writes
(already its own results) are left out. Each page has a file of claims,
``tests/claims/<page>.toml``; a claim quotes the page's words, ``text``, and
names where its figures come from, one or more of:

- ``bench``: paths into bench/results/latest.json, each a list of keys
  (``bench_value``: ``"*"``, several keys, ``min``/``max``, a cost); the
  quoted figures, in order, must be those values at the precision the page
  shows them;
- ``file``: ``[path, regex]``: the regex must match a line of that file
  (a setting in an ini file, the Kubernetes example);
- ``test``: ``path::test_name``: the test that proves the promise, which
  must exist;
- ``upstream``: the address of another project's documentation, for a fact
  of theirs (Docker's default grace period), not of this image.

A claim whose text is no longer on its page fails, and so does a figure no
claim quotes: a sentence rewritten without its claim, or a figure added
without a source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import tomllib

from tests.conftest import ROOT

CLAIMS = ROOT / "tests" / "claims"
BENCH = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"  # 9,499 or 0.85
UNIT = r"(?:s|ms|µs|MiB|MB|KiB|kB|GiB|GB|%|x|\u00d7|req/s|requests/s|minutes?|seconds?|min)"
# A number, or a range of them, then its unit: 1.14-1.50x, 0.3 s, 15%.
FIGURE = re.compile(rf"(?<![\w.,\-])(?:{NUMBER})(?:-(?:{NUMBER}))?[ -]?{UNIT}(?![\w])")
LEFT_OUT = re.compile(
    r"^```.*?^```|<!-- bench:start -->.*?<!-- bench:end -->|`[^`\n]*`|\]\([^)]*\)|<!--.*?-->",
    re.MULTILINE | re.DOTALL,
)


def claim_files() -> list[Path]:
    return sorted(CLAIMS.glob("*.toml"))


def load(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    data = tomllib.loads(path.read_text())
    return ROOT / data["page"], data.get("claim", [])


def prose(text: str) -> str:
    """The page with what is not prose blanked out, positions kept."""
    return LEFT_OUT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def quotes(claim: dict[str, Any], page: str) -> list[re.Match[str]]:
    """Where the claim's text is on the page (each place): a quote may cross line breaks."""
    return list(re.finditer(r"\s+".join(re.escape(word) for word in claim["text"].split()), page))


OPERATIONS = {"min": min, "max": max, "1 -": None, "1 - min": min, "1 - max": max}


def bench_value(path: list[Any]) -> float:
    """The value at ``path``, whose first item may be an operation (OPERATIONS).

    A key may be ``"*"`` (every key at that level) or a list of keys; the
    values found then go through ``min`` or ``max``. ``"1 -"``: a ratio
    shown as a cost, in percent.
    """
    operation = path[0] if path[0] in OPERATIONS else ""
    values: list[Any] = [BENCH]
    for key in path[1:] if operation else path:
        if key == "*":
            values = [value[k] for value in values for k in value]
        else:
            values = [value[k] for value in values for k in (key if isinstance(key, list) else [key])]
    pick = OPERATIONS.get(operation)
    value = float(pick(values) if pick else values[0])
    return (1 - value) * 100 if operation.startswith("1 -") else value


def shown(value: float, like: str) -> str:
    """``value`` at the precision of ``like``, a figure as the page shows it."""
    decimals = len(like.partition(".")[2])
    return f"{value:,.{decimals}f}" if "," in like else f"{value:.{decimals}f}"


def check(claim: dict[str, Any]) -> list[str]:
    text, problems = claim["text"], []
    if not {"bench", "file", "test", "upstream"} & set(claim):
        problems.append("names no source (bench, file, test or upstream)")
    if "upstream" in claim and not claim["upstream"].startswith("https://"):
        problems.append(f"upstream {claim['upstream']!r} is not an https address")
    if "bench" in claim:
        numbers = re.findall(NUMBER, text)
        values = [bench_value(path) for path in claim["bench"]]
        # The values, each at the precision shown, in order among the text's numbers.
        rest = iter(numbers)
        for path, value in zip(claim["bench"], values, strict=True):
            if not any(number == shown(value, number) for number in rest):
                problems.append(f"{' > '.join(map(str, path))} is {value:.4g} in bench/results/latest.json")
                break
    if "file" in claim:
        path, regex = claim["file"]
        source = ROOT / path
        if not source.is_file() or not re.search(regex, source.read_text(), re.MULTILINE):
            problems.append(f"{path} has no line matching {regex!r}")
    for test in [claim["test"]] if isinstance(claim.get("test"), str) else claim.get("test", []):
        path, _, name = test.partition("::")
        source = ROOT / path
        if not source.is_file() or not re.search(rf"^\s*(?:async )?def {re.escape(name)}\(", source.read_text(), re.M):
            problems.append(f"no test {test}")
    return problems


@pytest.mark.parametrize("path", claim_files(), ids=lambda path: path.stem)
def test_every_claim_is_on_its_page_and_agrees_with_its_source(path: Path) -> None:
    page, claims = load(path)
    text = page.read_text()
    problems = []
    for claim in claims:
        if not quotes(claim, text):
            problems.append(f"{claim['text']!r}: not on {page.relative_to(ROOT)}")
        problems += [f"{claim['text']!r}: {problem}" for problem in check(claim)]
    assert not problems, "\n".join(problems)


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_every_figure_on_a_page_is_claimed(page: Path) -> None:
    claims = next((claims for path in claim_files() for p, claims in [load(path)] if p == page), [])
    text = page.read_text()
    spans = [match.span() for claim in claims for match in quotes(claim, text)]
    unclaimed = []
    for match in FIGURE.finditer(prose(text)):
        if not any(start <= match.start() and match.end() <= end for start, end in spans):
            line = text.count("\n", 0, match.start()) + 1
            unclaimed.append(f"line {line}: {match.group()!r}")
    assert not unclaimed, f"{page.relative_to(ROOT)}: figures no claim quotes:\n" + "\n".join(unclaimed)


def promises() -> list[tuple[Path, str]]:
    """The README's runtime contract, row by row, and docs/security.md, bullet by bullet."""
    readme = ROOT / "README.md"
    contract = readme.read_text().split("\n## Runtime contract\n", 1)[1].split("\n## ", 1)[0]
    rows = [(readme, line) for line in contract.splitlines() if line.startswith("| `")]
    security = ROOT / "docs" / "security.md"
    bullets = re.findall(r"^- .*?(?=^- |\Z)", security.read_text(), re.MULTILINE | re.DOTALL)
    return rows + [(security, bullet) for bullet in bullets]


@pytest.mark.parametrize(
    ("page", "promise"), promises(), ids=lambda value: value.name if isinstance(value, Path) else value[:40]
)
def test_every_promise_names_the_test_that_proves_it(page: Path, promise: str) -> None:
    claims = next(claims for path in claim_files() for p, claims in [load(path)] if p == page)
    assert any("test" in claim and quotes(claim, promise) for claim in claims), (
        f"{page.relative_to(ROOT)}: no claim with a test quotes this promise: {promise[:80]}"
    )
