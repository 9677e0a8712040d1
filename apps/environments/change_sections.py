"""A section on the change page: the schema migrations the change carries (declared by the
artifacts it deployed or asked the gate about) and where each ran, per environment, with its
status and whether the checksum matches the declared one. Shown for a database change (its risk
answers say so) and for any change whose artifacts declare migrations. Five queries whatever the
change's history."""

from __future__ import annotations

from apps.catalog.models import Environment
from apps.delivery.models import Deployment, GateDecision

from . import selectors

MATCH, OTHER_CHECKSUM, FAILED, NOT_RUN = "match", "other_checksum", "failed", "not_run"


def _cell(rows, checksum: str) -> dict:
    """One migration in one environment: the best outcome recorded there."""
    succeeded = [r for r in rows if r.status == "success"]
    if succeeded:
        row = succeeded[-1]
        return {"state": MATCH if row.checksum == checksum else OTHER_CHECKSUM, "row": row}
    if rows:
        return {"state": FAILED, "row": rows[-1]}
    return {"state": NOT_RUN, "row": None}


def migration_matrix(change) -> dict | None:
    artifact_ids = set(Deployment.objects.filter(change=change, artifact__isnull=False)
                       .values_list("artifact_id", flat=True))
    artifact_ids |= set(GateDecision.objects.filter(change=change, artifact__isnull=False)
                        .values_list("artifact_id", flat=True))
    declared: dict[str, dict] = {}
    tools = set()
    for summary in selectors.declared_migrations(artifact_ids).values() if artifact_ids else ():
        tools.add(summary.get("tool", ""))
        for m in summary.get("migrations") or []:
            if isinstance(m, dict) and m.get("version"):
                declared.setdefault(str(m["version"]), m)
    is_database = bool((change.risk_answers or {}).get("database_change"))
    if not declared and not is_database:
        return None
    environments = list(Environment.objects.order_by("order"))
    ran = selectors.where_migrations_ran([change.service_id], list(declared)) if declared else {}
    rows = []
    for version, m in sorted(declared.items(), key=lambda kv: _version_key(kv[0])):
        by_env: dict[int, list] = {}
        for row in ran.get((change.service_id, version), []):
            by_env.setdefault(row.environment_id, []).append(row)
        rows.append({"version": version, "description": m.get("description", ""), "checksum": m.get("checksum", ""),
                     "cells": [_cell(by_env.get(env.pk, []), str(m.get("checksum", ""))) for env in environments]})
    return {"environments": environments, "rows": rows, "tools": sorted(t for t in tools if t),
            "is_database": is_database}


def _version_key(version: str):
    """Numeric versions in number order (2 before 10), others after, alphabetically."""
    parts = version.replace("_", ".").split(".")
    if all(p.isdigit() for p in parts):
        return (0, [int(p) for p in parts], version)
    return (1, [], version)


def sections(request, change) -> list[dict]:
    matrix = migration_matrix(change)
    if matrix is None:
        return []
    return [{"title": "Schema migrations", "template": "environments/sections/change_migrations.html", "order": 63,
             "data": matrix}]
