"""CycloneDX JSON SBOMs: components with their licences, and any vulnerabilities they list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import licenses
from .documents import check_schema, load_json, wrong_format

_SUPPRESSED_STATES = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _walk(components: Any, depth: int = 0):
    if not isinstance(components, list) or depth > 20:
        return
    for component in components:
        if isinstance(component, dict):
            yield component
            yield from _walk(component.get("components"), depth + 1)


def _expression(component: dict) -> str | None:
    parts = []
    for entry in component.get("licenses") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("expression"):
            parts.append(str(entry["expression"]))
        lic = entry.get("license") or {}
        if isinstance(lic, dict) and (lic.get("id") or lic.get("name")):
            parts.append(str(lic.get("id") or lic.get("name")))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " OR ".join(parts)


def parse(data: bytes | dict) -> dict[str, Any]:
    doc = load_json(data, what="CycloneDX")
    if doc.get("bomFormat") != "CycloneDX":
        raise wrong_format(f"Not a CycloneDX SBOM: bomFormat is {doc.get('bomFormat')!r}, expected 'CycloneDX'.")
    if not isinstance(doc.get("components", []), list):
        raise wrong_format("Not a CycloneDX SBOM: 'components' must be a list.")
    check_schema(doc, schema_file="cyclonedx-1.4-1.6.min.json", what="CycloneDX")
    components = list(_walk(doc.get("components") or []))
    summary: dict[str, Any] = {"spec_version": str(doc.get("specVersion", "")), "components": len(components)}
    summary.update(licenses.tally(_expression(c) for c in components))
    vulns: Counter[str] = Counter()
    suppressed: Counter[str] = Counter()
    for vuln in doc.get("vulnerabilities") or []:
        if not isinstance(vuln, dict):
            continue
        ratings = [r for r in vuln.get("ratings") or [] if isinstance(r, dict)]
        ranks = [_SEVERITIES.index(r["severity"]) for r in ratings if r.get("severity") in _SEVERITIES]
        severity = _SEVERITIES[min(ranks)] if ranks else "info"
        state = ((vuln.get("analysis") or {}).get("state") or "")
        (suppressed if state in _SUPPRESSED_STATES else vulns)[severity] += 1
    summary["by_severity"] = {s: vulns.get(s, 0) for s in _SEVERITIES}
    summary["suppressed"] = {"count": sum(suppressed.values()), "by_severity": {s: suppressed.get(s, 0) for s in _SEVERITIES}}
    return summary
