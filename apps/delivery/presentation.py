"""Turning an artifact's evidence into what its page and the change page show."""

from __future__ import annotations

from collections import Counter


def artifact_overview(evidence: list) -> dict:
    """Latest test results, scan totals, licences, provenance and builds from evidence rows."""
    tests = next((e for e in evidence if e.kind == "junit"), None)
    scans = [e for e in evidence if e.kind == "sarif"]
    sboms = [e for e in evidence if e.kind in ("cyclonedx", "spdx")]
    provenance = next((e for e in evidence if e.kind == "slsa_provenance"), None)
    severity: Counter[str] = Counter()
    suppressed = 0
    seen_tools: set[tuple] = set()
    for scan in scans:  # newest first; one per tool
        tools = tuple(scan.summary.get("tools") or ())
        if tools in seen_tools:
            continue
        seen_tools.add(tools)
        severity.update(scan.summary.get("by_severity") or {})
        suppressed += int((scan.summary.get("suppressed") or {}).get("count", 0))
    sbom = sboms[0] if sboms else None
    licences = sorted((sbom.summary.get("licenses") or {}).items(), key=lambda kv: -kv[1]) if sbom else []
    return {
        "tests": tests.summary if tests else None,
        "severity": {k: severity.get(k, 0) for k in ("critical", "high", "medium", "low", "info")} if scans else None,
        "suppressed": suppressed,
        "sbom": sbom.summary if sbom else None,
        "licences": licences[:30],
        "provenance": provenance.summary if provenance else None,
        "builds": [e.summary for e in evidence if e.kind == "other" and e.summary.get("run_id")],
        "logs": [e for e in evidence if e.kind == "log"],
    }
