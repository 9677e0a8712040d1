"""SARIF 2.1.0 scan results: findings by level and security severity, suppressed ones apart.

Severity follows GitHub code scanning: a rule's `security-severity` property (CVSS-like score)
gives critical ≥ 9, high ≥ 7, medium ≥ 4, else low; without it the result level decides
(error → high, warning → medium, note → low, none → info)."""

from __future__ import annotations

from typing import Any

from .documents import check_schema, load_json, wrong_format

LEVELS = ("error", "warning", "note", "none")
SEVERITIES = ("critical", "high", "medium", "low", "info")
_LEVEL_SEVERITY = {"error": "high", "warning": "medium", "note": "low", "none": "info"}


def _severity_from_score(score: Any) -> str | None:
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    if value >= 9.0:
        return "critical"
    if value >= 7.0:
        return "high"
    if value >= 4.0:
        return "medium"
    return "low" if value > 0 else "info"


def _is_suppressed(result: dict) -> bool:
    suppressions = result.get("suppressions") or []
    # A suppression under review or rejected does not hide the finding.
    return any(isinstance(s, dict) and s.get("status", "accepted") == "accepted" for s in suppressions)


def parse(data: bytes | dict) -> dict[str, Any]:
    doc = load_json(data, what="SARIF")
    if doc.get("version") != "2.1.0":
        raise wrong_format(f"Not a SARIF 2.1.0 log: version is {doc.get('version')!r}.")
    runs = doc.get("runs")
    if not isinstance(runs, list):
        raise wrong_format("Not a SARIF log: 'runs' must be a list.")
    check_schema(doc, schema_file="sarif-2.1.0.min.json", what="SARIF")
    by_level = dict.fromkeys(LEVELS, 0)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    suppressed_by_severity = dict.fromkeys(SEVERITIES, 0)
    tools: list[str] = []
    top: list[dict] = []
    for run in runs:
        if not isinstance(run, dict):
            raise wrong_format("Not a SARIF log: each run must be an object.")
        driver = ((run.get("tool") or {}).get("driver") or {})
        tools.append(str(driver.get("name") or "unknown"))
        rules = [r for r in (driver.get("rules") or []) if isinstance(r, dict)]
        rules_by_id = {r.get("id"): r for r in rules}
        for result in run.get("results") or []:
            if not isinstance(result, dict):
                continue
            rule = None
            index = result.get("ruleIndex")
            if isinstance(index, int) and 0 <= index < len(rules):
                rule = rules[index]
            rule = rule or rules_by_id.get(result.get("ruleId")) or {}
            level = result.get("level") or (rule.get("defaultConfiguration") or {}).get("level") or "warning"
            level = level if level in LEVELS else "warning"
            severity = (_severity_from_score((rule.get("properties") or {}).get("security-severity"))
                        or _severity_from_score((result.get("properties") or {}).get("security-severity"))
                        or _LEVEL_SEVERITY[level])
            if _is_suppressed(result):
                suppressed_by_severity[severity] += 1
                continue
            by_level[level] += 1
            by_severity[severity] += 1
            if len(top) < 20 and severity in ("critical", "high"):
                top.append({"rule": str(result.get("ruleId") or rule.get("id") or ""), "severity": severity,
                            "message": str((result.get("message") or {}).get("text", ""))[:200]})
    return {
        "tools": tools,
        "results": sum(by_level.values()),
        "by_level": by_level,
        "by_severity": by_severity,
        "suppressed": {"count": sum(suppressed_by_severity.values()), "by_severity": suppressed_by_severity},
        "top_findings": top,
    }
