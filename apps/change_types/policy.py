"""Policy as code: change types and their workflows as YAML.

`export_policy()` writes the file; `plan_import(text)` validates it (refusing with the line and
the reason) and returns the diff against the database; `apply_import(plan)` applies it in one
transaction — nothing is half-applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction

from releaseportal.policy_import import LineLoader as _LineLoader
from releaseportal.policy_import import PolicyError

from .models import RISK_LEVELS, ApprovalStage, ChangeType

POLICY_VERSION = 1
TYPE_FIELDS = {  # yaml key -> (model field, type)
    "name": ("name", str), "description": ("description", str), "pre_approved": ("is_pre_approved", bool),
    "emergency": ("is_emergency", bool), "cab_required": ("cab_required", str), "cab_from_risk": ("cab_from_risk", str),
    "requires_peer_review": ("requires_peer_review", bool), "override_hours": ("override_hours", int),
    "post_mortem_days": ("post_mortem_days", int), "active": ("is_active", bool),
}
STAGE_FIELDS = ["name", "approver_kind", "approver_group", "rule", "quorum", "sla_hours", "mandatory", "applies_when",
                "is_cab"]


def export_policy() -> str:
    types = []
    for ct in ChangeType.objects.prefetch_related("stages").order_by("slug"):
        entry: dict[str, Any] = {"slug": ct.slug}
        for key, (attr, _) in TYPE_FIELDS.items():
            entry[key] = getattr(ct, attr)
        entry["stages"] = []
        for stage in ct.stages.all():
            item: dict[str, Any] = {"name": stage.name}
            if stage.approver_kind == ApprovalStage.ApproverKind.OWNING_TEAM:
                item["approvers"] = {"owning_team": True}
            else:
                item["approvers"] = {"group": stage.approver_group}
            item["rule"] = stage.rule
            if stage.rule == ApprovalStage.Rule.QUORUM:
                item["quorum"] = stage.quorum
            item.update(sla_hours=stage.sla_hours, mandatory=stage.mandatory, applies_when=stage.applies_when,
                        cab=stage.is_cab)
            entry["stages"].append(item)
        types.append(entry)
    header = "# Release Portal change policy. Edit, then: manage.py policy_import FILE --dry-run\n"
    return header + yaml.safe_dump({"version": POLICY_VERSION, "change_types": types}, sort_keys=False,
                                   allow_unicode=True)


@dataclass
class ImportPlan:
    types: list[dict] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.diff)


def _expect(value, kind, line, what):
    if kind is bool and not isinstance(value, bool):
        raise PolicyError(line, f"{what} must be true or false, not {value!r}")
    if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise PolicyError(line, f"{what} must be a whole number ≥ 0, not {value!r}")
    if kind is str and not isinstance(value, str):
        raise PolicyError(line, f"{what} must be text, not {value!r}")
    return value


def _parse_stage(raw: Any, line: int, type_slug: str, position: int) -> dict:
    if not isinstance(raw, dict):
        raise PolicyError(line, f"type '{type_slug}': stage {position} must be a mapping")
    sline = raw.get("__line__", line)
    unknown = set(raw) - {"__line__", "name", "approvers", "rule", "quorum", "sla_hours", "mandatory", "applies_when", "cab"}
    if unknown:
        raise PolicyError(sline, f"stage {position} of '{type_slug}': unknown key(s) {', '.join(sorted(unknown))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError(sline, f"stage {position} of '{type_slug}': name is required")
    where = f"stage '{name}' of '{type_slug}'"
    approvers = raw.get("approvers")
    if not isinstance(approvers, dict):
        raise PolicyError(sline, f"{where}: approvers must be {{group: NAME}} or {{owning_team: true}}")
    if approvers.get("owning_team") is True:
        kind, group = ApprovalStage.ApproverKind.OWNING_TEAM, ""
    elif isinstance(approvers.get("group"), str) and approvers["group"].strip():
        kind, group = ApprovalStage.ApproverKind.GROUP, approvers["group"].strip()
    else:
        raise PolicyError(approvers.get("__line__", sline), f"{where}: approvers must name a group or owning_team: true")
    rule = raw.get("rule", "any")
    if rule not in ApprovalStage.Rule.values:
        raise PolicyError(sline, f"{where}: rule must be any, all or quorum, not {rule!r}")
    quorum = _expect(raw.get("quorum", 1), int, sline, f"{where}: quorum")
    if rule == "quorum" and quorum < 1:
        raise PolicyError(sline, f"{where}: a quorum rule needs quorum ≥ 1")
    applies = raw.get("applies_when", "always")
    if applies not in ApprovalStage.AppliesWhen.values:
        raise PolicyError(sline, f"{where}: applies_when must be one of {', '.join(ApprovalStage.AppliesWhen.values)}")
    return {"order": position, "name": name.strip(), "approver_kind": kind, "approver_group": group, "rule": rule,
            "quorum": quorum if rule == "quorum" else 1,
            "sla_hours": _expect(raw.get("sla_hours", 24), int, sline, f"{where}: sla_hours"),
            "mandatory": _expect(raw.get("mandatory", True), bool, sline, f"{where}: mandatory"),
            "applies_when": applies, "is_cab": _expect(raw.get("cab", False), bool, sline, f"{where}: cab")}


def parse_policy(text: str) -> list[dict]:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PolicyError(mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}") from exc
    if not isinstance(data, dict):
        raise PolicyError(1, "the file must be a mapping with 'version' and 'change_types'")
    if data.get("version") != POLICY_VERSION:
        raise PolicyError(data.get("__line__", 1), f"version must be {POLICY_VERSION}")
    raw_types = data.get("change_types")
    if not isinstance(raw_types, list) or not raw_types:
        raise PolicyError(data.get("__line__", 1), "change_types must be a non-empty list")
    seen: set[str] = set()
    parsed = []
    for raw in raw_types:
        if not isinstance(raw, dict):
            raise PolicyError(data.get("__line__"), "each change type must be a mapping")
        line = raw.get("__line__")
        slug = raw.get("slug")
        if not isinstance(slug, str) or not slug or not slug.replace("-", "").replace("_", "").isalnum():
            raise PolicyError(line, f"slug must be letters, digits, - or _, not {slug!r}")
        if slug in seen:
            raise PolicyError(line, f"change type '{slug}' appears twice")
        seen.add(slug)
        unknown = set(raw) - set(TYPE_FIELDS) - {"slug", "stages", "__line__"}
        if unknown:
            raise PolicyError(line, f"type '{slug}': unknown key(s) {', '.join(sorted(unknown))}")
        values = {}
        for key, (attr, kind) in TYPE_FIELDS.items():
            if key in raw:
                values[attr] = _expect(raw[key], kind, line, f"type '{slug}': {key}")
        if "name" not in values or not values["name"].strip():
            raise PolicyError(line, f"type '{slug}': name is required")
        if values.get("cab_required", "never") not in ChangeType.CabRequired.values:
            raise PolicyError(line, f"type '{slug}': cab_required must be never, always or from_risk")
        if values.get("cab_required") == "from_risk" and values.get("cab_from_risk") not in RISK_LEVELS:
            raise PolicyError(line, f"type '{slug}': cab_required from_risk needs cab_from_risk in {', '.join(RISK_LEVELS)}")
        stages_raw = raw.get("stages") or []
        if not isinstance(stages_raw, list):
            raise PolicyError(line, f"type '{slug}': stages must be a list")
        stages = [_parse_stage(s, line, slug, i) for i, s in enumerate(stages_raw, start=1)]
        if values.get("is_pre_approved") and stages:
            raise PolicyError(line, f"type '{slug}': a pre-approved type has no approval stages")
        if not values.get("is_pre_approved") and not stages:
            raise PolicyError(line, f"type '{slug}': needs at least one approval stage (or pre_approved: true)")
        names = [s["name"] for s in stages]
        if len(set(names)) != len(names):
            raise PolicyError(line, f"type '{slug}': stage names must be unique")
        parsed.append({"slug": slug, "line": line, "values": values, "stages": stages})
    return parsed


def _fmt(value) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def plan_import(text: str) -> ImportPlan:
    """Validate and diff. Raises PolicyError naming the line and the reason."""
    plan = ImportPlan(types=parse_policy(text))
    existing = {ct.slug: ct for ct in ChangeType.objects.prefetch_related("stages")}
    for entry in plan.types:
        slug = entry["slug"]
        current = existing.get(slug)
        if current is None:
            plan.diff.append(f"+ change type {slug} ({entry['values']['name']}) with {len(entry['stages'])} stage(s)")
            for s in entry["stages"]:
                plan.diff.append(f"+   {slug} stage {s['order']} {s['name']}: {s['rule']}")
            continue
        for attr, value in entry["values"].items():
            if getattr(current, attr) != value:
                plan.diff.append(f"~ {slug}.{attr}: {_fmt(getattr(current, attr))} → {_fmt(value)}")
        old_stages = {s.order: s for s in current.stages.all()}
        for s in entry["stages"]:
            old = old_stages.pop(s["order"], None)
            if old is None:
                plan.diff.append(f"+ {slug} stage {s['order']} {s['name']}: {s['rule']}")
                continue
            for name in STAGE_FIELDS:
                if getattr(old, name) != s[name]:
                    plan.diff.append(f"~ {slug} stage {s['order']} ({old.name}) {name}: "
                                     f"{_fmt(getattr(old, name))} → {_fmt(s[name])}")
        for order, old in sorted(old_stages.items()):
            if old.approvals.exists():
                raise PolicyError(entry["line"], f"type '{slug}': stage {order} '{old.name}' has recorded decisions "
                                                 "and cannot be removed; keep it (mandatory: false) instead")
            plan.diff.append(f"- {slug} stage {order} {old.name}")
    for slug in sorted(set(existing) - {e["slug"] for e in plan.types}):
        plan.notes.append(f"= change type {slug} is not in the file: left as it is")
    return plan


def apply_import(plan: ImportPlan, *, actor) -> list[str]:
    from apps.audit.services import audit_event_record

    with transaction.atomic():
        for entry in plan.types:
            ct = ChangeType.objects.filter(slug=entry["slug"]).first() or ChangeType(slug=entry["slug"])
            for attr, value in entry["values"].items():
                setattr(ct, attr, value)
            ct.save()
            keep = set()
            for s in entry["stages"]:
                stage = ApprovalStage.objects.filter(change_type=ct, order=s["order"]).first() or ApprovalStage(
                    change_type=ct, order=s["order"])
                for name in STAGE_FIELDS:
                    setattr(stage, name, s[name])
                stage.save()
                keep.add(stage.pk)
            ApprovalStage.objects.filter(change_type=ct).exclude(pk__in=keep).delete()
        audit_event_record(action="change_types.policy_imported", actor=actor, object_type="change_types.policy",
                           object_id="policy", object_repr="change policy", details={"diff": plan.diff})
    return plan.diff
