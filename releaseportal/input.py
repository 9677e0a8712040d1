"""The input layer: strict parsing of what arrives from outside (ids, datetimes, strings, JSON).

Every route parses ids, datetime filters, text and JSON bodies through these functions, so a
hostile value is refused the same way everywhere (a 4xx naming the field) instead of reaching
`int()`, PostgreSQL or the recursion limit and answering 500.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from itertools import accumulate
from typing import Any

from django.utils.dateparse import parse_datetime

from releaseportal.errors import InvalidInput

# Ids are bigint primary keys: at most 18 ASCII digits is always in range (9.2e18 is 19).
_ID_RE = re.compile(r"[0-9]{1,18}")

# NUL cannot be stored by PostgreSQL; the other C0 controls (tab, newline and carriage return
# aside) have no business in names, slugs or keys and are how log/CSV injection starts.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NUL = "\x00"

# PostgreSQL accepts UTC offsets up to ±15:59; Python up to ±23:59.
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)
# Years a stored datetime may have once converted to UTC (PostgreSQL and Python both hold 1..9999,
# a margin keeps a timezone conversion at render time from overflowing).
MIN_YEAR, MAX_YEAR = 1, 9998

# JSON bodies: nesting beyond this is refused before json.loads (real documents — SARIF, SBOMs,
# Terraform plans — stay well under 100; Python's parser dies near 1,000).
MAX_JSON_DEPTH = 100
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_DEPTH_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def parse_id(text: Any) -> int | None:
    """A positive primary key from a URL segment or parameter, or None: ASCII digits only
    (`"²".isdigit()` is true, `int("²")` is an error), never beyond bigint."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if 0 < text < 10**18 else None
    value = str(text).strip() if text is not None else ""
    if not _ID_RE.fullmatch(value):
        return None
    number = int(value)
    return number or None


def control_characters(text: str, *, allow_nul: bool = False) -> bool:
    """True when `text` holds a character refused in identifiers (NUL and C0 controls)."""
    if allow_nul:
        return bool(_CONTROL_RE.search(text.replace(_NUL, "")))
    return bool(_CONTROL_RE.search(text))


def nul_path(value: Any, path: str = "") -> str | None:
    """The JSON path of the first string (key or value) holding NUL in a decoded document, or None.
    PostgreSQL refuses NUL in text and in jsonb, so it is refused at the door, by name."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _NUL in node:
                return where or "(body)"
        elif isinstance(node, dict):
            for key, item in node.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _NUL in key:
                    return name.replace(_NUL, "\\u0000")
                stack.append((item, name))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(node))
    return None


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `limit`, decided without parsing it (regex and
    itertools run in C, so a 1,000-deep body is refused in well under a millisecond)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text))
    return max(accumulate(map(_DEPTH_DELTA.__getitem__, brackets.encode())), default=0) > limit


def load_json_bounded(raw: bytes | str, *, field: str = "body", limit: int = MAX_JSON_DEPTH,
                      depth_checked: bool = False) -> Any:
    """json.loads with the depth bound and NUL refusal applied: InvalidInput naming `field`.
    `depth_checked`: the caller already scanned this very text against the bound."""
    if not depth_checked and json_depth_exceeds(raw, limit):
        raise InvalidInput(f"The {field} nests deeper than {limit} levels.", code="nested_too_deeply",
                           fields={field: [f"nested deeper than {limit} levels"]})
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"The {field} is not valid JSON: {exc}.", code="parse_error",
                           fields={field: ["not valid JSON"]}) from None
    except RecursionError:  # belt and braces: the scan above bounds depth already
        raise InvalidInput(f"The {field} nests too deeply.", code="nested_too_deeply",
                           fields={field: ["nested too deeply"]}) from None
    bad = nul_path(value)
    if bad is not None:
        raise InvalidInput(f"{bad} contains a NUL character.", code="control_character",
                           fields={bad: ["NUL characters are not allowed."]})
    return value


def datetime_problem(value: dt.datetime) -> str | None:
    """Why an aware datetime cannot be stored or compared, or None."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return "UTC offset beyond ±15:59"
    try:
        in_utc = value.astimezone(dt.UTC) if offset is not None else value
    except OverflowError:
        return "out of range"
    if not MIN_YEAR <= in_utc.year <= MAX_YEAR:
        return f"year outside {MIN_YEAR}..{MAX_YEAR}"
    return None


def parse_datetime_strict(text: str, *, field: str) -> dt.datetime:
    """An ISO 8601 datetime in UTC, range-checked; InvalidInput naming `field` otherwise."""
    try:
        parsed = parse_datetime(text.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInput(f"{field} is not an ISO 8601 datetime.", fields={field: ["not an ISO 8601 datetime"]})
    problem = datetime_problem(parsed)
    if problem:
        raise InvalidInput(f"{field}: {problem}.", fields={field: [problem]})
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
