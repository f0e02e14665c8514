"""The spans an OTLP/HTTP receiver of the tests wrote
(tests/images/apps/traced/otlp_receiver.py: one export per line, as JSON)."""

from __future__ import annotations

import json
from typing import Any


def parse_spans(output: str) -> list[dict[str, Any]]:
    """Every span in the receiver's output, with its own attributes under
    "attrs" and its resource's under "resource"."""
    found = []
    for line in output.splitlines():
        for resource_spans in json.loads(line)["resourceSpans"]:
            resource = attributes(resource_spans["resource"])
            for scope in resource_spans["scopeSpans"]:
                found += [{**span, "attrs": attributes(span), "resource": resource} for span in scope["spans"]]
    return found


def attributes(item: dict[str, Any]) -> dict[str, Any]:
    """OTLP's key/value list as a dict (AnyValue's one field, whatever its type)."""
    return {a["key"]: next(iter(a["value"].values()), None) for a in item.get("attributes", [])}
