"""SPDX 2.3 JSON SBOMs: packages and their licences (concluded, else declared)."""

from __future__ import annotations

from typing import Any

from . import licenses
from .documents import check_schema, load_json, wrong_format


def _expression(package: dict) -> str | None:
    for key in ("licenseConcluded", "licenseDeclared"):
        value = package.get(key)
        if isinstance(value, str) and value.strip().upper() not in licenses.UNKNOWN_MARKERS:
            return value
    return None


def parse(data: bytes | dict) -> dict[str, Any]:
    doc = load_json(data, what="SPDX")
    version = doc.get("spdxVersion")
    if version != "SPDX-2.3":
        raise wrong_format(f"Not an SPDX 2.3 document: spdxVersion is {version!r}, expected 'SPDX-2.3'.")
    check_schema(doc, schema_file="spdx-2.3.min.json", what="SPDX")
    packages = doc.get("packages") or []
    if not isinstance(packages, list):
        raise wrong_format("Not an SPDX document: 'packages' must be a list.")
    packages = [p for p in packages if isinstance(p, dict)]
    summary: dict[str, Any] = {"spec_version": version, "name": str(doc.get("name", "")), "components": len(packages)}
    summary.update(licenses.tally(_expression(p) for p in packages))
    return summary
