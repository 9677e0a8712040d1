"""JUnit XML test reports: totals, failures, errors and skipped tests.

Parsed with defusedxml and DTDs forbidden: a test report never needs entities, and XXE or
entity-expansion payloads must be refused before they are expanded."""

from __future__ import annotations

import math
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from releaseportal.errors import InvalidInput

MAX_FAILED_CASES = 50
# Counts beyond this are not a test report (and "1e400" overflows int(float())).
MAX_COUNT = 10**9
# A suite time beyond a year is not a duration; inf/nan cannot be stored in jsonb.
MAX_SECONDS = 366 * 24 * 3600


def parse_xml(data: bytes, *, what: str):
    """The one way delivery reads XML: no DTD, no entities, no external references."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidInput(f"The {what} document was refused: it declares a DTD, entities or external references "
                           f"({exc.__class__.__name__}).", code="unsafe_xml", fields={"file": ["unsafe XML"]}) from None
    except SafeET.ParseError as exc:
        raise InvalidInput(f"The {what} document is not well-formed XML: {exc}.", code="malformed_document",
                           fields={"file": [f"not well-formed XML: {exc}"]}) from None


def _refuse_number(where: str, value: str) -> InvalidInput:
    return InvalidInput(f"The JUnit document's {where} is {value[:40]!r}: not a finite number in range.",
                        code="invalid_document", fields={where: ["not a finite number in range"]})


def _number(value: str | None, *, where: str, limit: float) -> float:
    """A non-negative finite number from an attribute. Absent or unreadable reads as 0, as it
    always has (reporters write odd things); infinite, NaN or absurdly large is refused: it
    overflows int() or cannot be stored."""
    try:
        number = float(value) if value is not None and value.strip() else 0.0
    except ValueError:
        return 0.0
    if not math.isfinite(number) or number > limit:
        raise _refuse_number(where, value or "")
    return max(number, 0.0)


def _int(value: str | None, *, where: str = "tests") -> int:
    return int(_number(value, where=where, limit=MAX_COUNT))


def _suite_totals(suite, where: str) -> dict[str, int]:
    cases = list(suite.iter("testcase"))
    if not cases:
        return {key: _int(suite.get(key) or (suite.get("disabled") if key == "skipped" else None),
                          where=f"{where}.{key}")
                for key in ("tests", "failures", "errors", "skipped")}
    totals = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        if case.find("failure") is not None:
            totals["failures"] += 1
        elif case.find("error") is not None:
            totals["errors"] += 1
        elif case.find("skipped") is not None:
            totals["skipped"] += 1
    return totals


def parse(data: bytes) -> dict[str, Any]:
    root = parse_xml(data, what="JUnit")
    if root.tag == "testsuites":
        suites = root.findall("testsuite") or [root]
    elif root.tag == "testsuite":
        suites = [root]
    else:
        raise InvalidInput(f"Not a JUnit XML report: the root element is <{root.tag}>, expected <testsuites> "
                           "or <testsuite>.", code="wrong_format", fields={"file": ["not JUnit XML"]})
    summary = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failed_cases: list[str] = []
    time = 0.0
    for index, suite in enumerate(suites):
        where = f"testsuite[{index}]"
        for key, value in _suite_totals(suite, where).items():
            summary[key] += value
        time += _number(suite.get("time"), where=f"{where}.time", limit=MAX_SECONDS)
        for case in suite.iter("testcase"):
            if len(failed_cases) >= MAX_FAILED_CASES:
                break
            if case.find("failure") is not None or case.find("error") is not None:
                failed_cases.append(f"{case.get('classname', '')}.{case.get('name', '')}".strip("."))
    summary["passed"] = max(summary["tests"] - summary["failures"] - summary["errors"] - summary["skipped"], 0)
    summary["suites"] = len(suites)
    summary["time_seconds"] = round(time, 3)
    summary["failed_cases"] = failed_cases
    summary["ok"] = summary["failures"] == 0 and summary["errors"] == 0 and summary["tests"] > 0
    return summary
