"""JUnit XML test reports: totals, failures, errors and skipped tests.

Parsed with defusedxml and DTDs forbidden: a test report never needs entities, and XXE or
entity-expansion payloads must be refused before they are expanded."""

from __future__ import annotations

import contextlib
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from releaseportal.errors import InvalidInput

MAX_FAILED_CASES = 50


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


def _int(value: str | None) -> int:
    try:
        return max(int(float(value or 0)), 0)
    except ValueError:
        return 0


def _suite_totals(suite) -> dict[str, int]:
    cases = list(suite.iter("testcase"))
    if not cases:
        return {"tests": _int(suite.get("tests")), "failures": _int(suite.get("failures")),
                "errors": _int(suite.get("errors")), "skipped": _int(suite.get("skipped") or suite.get("disabled"))}
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
    for suite in suites:
        for key, value in _suite_totals(suite).items():
            summary[key] += value
        with contextlib.suppress(ValueError):
            time += float(suite.get("time") or 0)
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
