"""Reading `terraform show -json` (OpenTofu: the same) plans: counts and addresses, no values.

The plan is untrusted input: its size, nesting depth and shape are checked before anything is
read, and every refusal names the field `plan`. Only `format_version`, `terraform_version` and,
per entry of `resource_changes`, `address`, `type`, `mode` and `change.actions` are read; the
values (`before`, `after`, `after_unknown`, variables, prior state, configuration) are never
copied anywhere, logged, or echoed in an error."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from releaseportal.errors import InvalidInput

MAX_PLAN_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100
MAX_RESOURCE_CHANGES = 50_000
_MAX_ADDRESS = 500

# `change.actions` as Terraform writes them -> the one action we count it as.
_ACTIONS = {
    ("no-op",): "no_op",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("forget",): "forget",  # Terraform 1.7+: removed from state, the object itself kept
}


@dataclass
class Resource:
    address: str
    resource_type: str
    mode: str
    action: str


@dataclass
class Plan:
    format_version: str = ""
    tool_version: str = ""
    summary: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("create", "update", "delete", "replace", "read", "no_op"), 0))
    resources: list[Resource] = field(default_factory=list)


def refused(message: str) -> InvalidInput:
    return InvalidInput(f"The plan is not a usable `terraform show -json` document: {message}",
                        code="invalid_plan", fields={"plan": [message]})


def _depth_ok(value: Any, limit: int) -> bool:
    """Iterative, so a hostile nesting cannot exhaust the stack while it is measured."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return True


def load(raw: Any) -> dict:
    """The plan as an object: given inline (already parsed by the request) or as JSON text."""
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_PLAN_BYTES:
            raise refused(f"larger than {MAX_PLAN_BYTES} bytes")
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise refused("not valid JSON") from None
        except RecursionError:
            raise refused("nested too deeply") from None
    if not isinstance(raw, dict):
        raise refused("expected a JSON object")
    if not _depth_ok(raw, MAX_DEPTH):
        raise refused(f"nested deeper than {MAX_DEPTH} levels")
    return raw


def _text(value: Any, name: str, limit: int, *, index: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        where = f"resource_changes[{index}].{name}" if index is not None else name
        raise refused(f"{where} must be a string")
    return value[:limit]


def parse(raw: Any) -> Plan:
    doc = load(raw)
    plan = Plan(format_version=_text(doc.get("format_version"), "format_version", 20),
                tool_version=_text(doc.get("terraform_version"), "terraform_version", 40))
    if not plan.format_version:
        raise refused("format_version is missing")
    changes = doc.get("resource_changes", [])
    if changes is None:
        changes = []
    if not isinstance(changes, list):
        raise refused("resource_changes must be a list")
    if len(changes) > MAX_RESOURCE_CHANGES:
        raise refused(f"more than {MAX_RESOURCE_CHANGES} resource changes")
    for index, entry in enumerate(changes):
        if not isinstance(entry, dict):
            raise refused(f"resource_changes[{index}] must be an object")
        address = _text(entry.get("address"), "address", _MAX_ADDRESS + 1, index=index)
        if not address or len(address) > _MAX_ADDRESS:
            raise refused(f"resource_changes[{index}].address must be 1 to {_MAX_ADDRESS} characters")
        change = entry.get("change")
        actions = change.get("actions") if isinstance(change, dict) else None
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise refused(f"resource_changes[{index}].change.actions must be a list of strings")
        action = _ACTIONS.get(tuple(actions))
        if action is None:
            # Not echoed verbatim beyond the known words: the list is short and names only verbs.
            raise refused(f"resource_changes[{index}].change.actions is not a known combination")
        if action in plan.summary:
            plan.summary[action] += 1
        plan.resources.append(Resource(address=address, action=action,
                                       resource_type=_text(entry.get("type"), "type", 200, index=index),
                                       mode=_text(entry.get("mode"), "mode", 10, index=index)))
    return plan
