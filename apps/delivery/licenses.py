"""SPDX licence expressions, as SBOMs state them, and the environment licence policy."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

UNKNOWN_MARKERS = {"", "NOASSERTION", "NONE", "UNKNOWN"}
_TOKEN = re.compile(r"[()\s]+")


def expression_ids(expression: str) -> tuple[list[str], bool]:
    """The licence ids in an expression and whether they are alternatives (OR)."""
    tokens = [t for t in _TOKEN.split(expression or "") if t]
    ids = [t for t in tokens if t.upper() not in ("AND", "OR", "WITH")]
    return ids, any(t.upper() == "OR" for t in tokens)


def tally(expressions: Iterable[str | None]) -> dict:
    """Summarise the licence expression of each component: distinct expressions with counts."""
    counts: Counter[str] = Counter()
    unknown = 0
    for expression in expressions:
        if expression is None or expression.strip().upper() in UNKNOWN_MARKERS:
            unknown += 1
        else:
            counts[expression.strip()] += 1
    ids: Counter[str] = Counter()
    for expression, count in counts.items():
        for license_id in expression_ids(expression)[0]:
            ids[license_id] += count
    return {"expressions": dict(counts.most_common()), "licenses": dict(ids.most_common()), "unknown": unknown}


def evaluate(expressions: dict[str, int], *, deny: list[str], allow: list[str]) -> list[str]:
    """The expressions the policy refuses. An OR expression passes if any alternative passes."""
    denied = {d.lower() for d in deny}
    allowed = {a.lower() for a in allow}

    def ok(license_id: str) -> bool:
        key = license_id.lower()
        if key in denied:
            return False
        return not allowed or key in allowed

    refused = []
    for expression in expressions:
        ids, alternatives = expression_ids(expression)
        if not ids:
            continue
        passes = any(ok(i) for i in ids) if alternatives else all(ok(i) for i in ids)
        if not passes:
            refused.append(expression)
    return refused
