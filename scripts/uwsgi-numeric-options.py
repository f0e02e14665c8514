"""Write entrypoint/uwsgi-numeric-options: every uWSGI option that takes a number,
read from the option tables of the pinned uWSGI's source (core and the plugins
its default build embeds), with the kind of number each takes.

    python3 scripts/uwsgi-numeric-options.py UWSGI_SOURCE_DIR   (an unpacked uwsgi sdist)

uWSGI reads these with atoi() or strtoul(): a non-number is quietly 0.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The setter an option table names, and the kind of number it reads.
KINDS = {
    "uwsgi_opt_set_int": "int",  # an int, negatives refused
    "uwsgi_opt_set_rawint": "signed",  # an int, negatives allowed
    "uwsgi_opt_set_64bit": "64bit",
    "uwsgi_opt_set_16bit": "16bit",  # above 65535 quietly 65535
    "uwsgi_opt_set_megabytes": "64bit",  # megabytes
}
ENTRY = re.compile(
    r'\{\s*"([a-z0-9-]+)"\s*,\s*\w+\s*,\s*[^,]+,\s*"(?:[^"\\]|\\.)*"\s*,\s*(' + "|".join(KINDS) + r")\b",
    re.S,
)


def main(source: Path) -> None:
    version = re.search(r"^Version: (\S+)", (source / "PKG-INFO").read_text(), re.M)[1]
    pinned = re.search(r"^uwsgi==(\S+)", (ROOT / "requirements" / "prod.txt").read_text(), re.M)[1]
    if version != pinned:
        sys.exit(f"uwsgi-numeric-options: {source} is uWSGI {version}, requirements/prod.txt pins {pinned}")
    base = (source / "buildconf" / "base.ini").read_text()
    main_plugins = re.search(r"^main_plugin = (.*)$", (source / "buildconf" / "default.ini").read_text(), re.M)[1]
    embedded = re.search(r"^embedded_plugins = (.*)$", base, re.M)[1].replace("%(main_plugin)s", main_plugins)
    files = sorted((source / "core").glob("*.c"))
    for plugin in filter(None, (name.strip() for name in embedded.split(","))):
        files += sorted((source / "plugins" / plugin).glob("*.c"))
    options = {}
    for path in files:
        for name, setter in ENTRY.findall(path.read_text(errors="replace")):
            options[name] = KINDS[setter]
    lines = [f"# uWSGI {version}: the options that take a number (scripts/uwsgi-numeric-options.py)"]
    lines += [f"{name} {kind}" for name, kind in sorted(options.items())]
    (ROOT / "entrypoint" / "uwsgi-numeric-options").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
