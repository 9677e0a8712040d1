"""The migrations an artifact carries, declared as evidence `kind: "migrations"` (API.md):

    {"tool": "flyway", "migrations": [{"version": "7", "description": "add index", "checksum": "..."}]}

A document format only: the declaration is kept in the evidence summary, where the environments
app (its gate rule, the change page) reads it; delivery knows nothing of applied migrations."""

from __future__ import annotations

from typing import Any

from .documents import load_json, wrong_format

MAX_MIGRATIONS = 5000


def _token(value: Any, what: str, limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise wrong_format(f"Every migration needs a {what}.")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise wrong_format(f"A migration's {what} must be text or a number.")
    text = str(value).strip()
    if len(text) > limit:
        raise wrong_format(f"A migration's {what} is longer than {limit} characters.")
    return text


def parse(data: bytes | dict) -> dict[str, Any]:
    doc = load_json(data, what="migrations")
    tool = doc.get("tool")
    if not isinstance(tool, str) or not tool.strip() or len(tool) > 20:
        raise wrong_format("A migrations declaration names its tool (flyway, liquibase, django, ...).")
    migrations = doc.get("migrations")
    if not isinstance(migrations, list):
        raise wrong_format("A migrations declaration lists its migrations in 'migrations'.")
    if len(migrations) > MAX_MIGRATIONS:
        raise wrong_format(f"At most {MAX_MIGRATIONS} migrations may be declared.")
    declared, seen = [], set()
    for entry in migrations:
        if not isinstance(entry, dict):
            raise wrong_format("Each migration is an object with version, description and checksum.")
        version = _token(entry.get("version"), "version", 100)
        if version in seen:
            raise wrong_format(f"Version {version} is declared twice.")
        seen.add(version)
        declared.append({"version": version, "checksum": _token(entry.get("checksum"), "checksum", 128),
                         "description": _token(entry.get("description"), "description", 300, required=False)})
    return {"tool": tool.strip(), "count": len(declared), "migrations": declared}
