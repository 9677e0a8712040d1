"""What a pack covers: parameters checked and normalised, then the deployments and change
requests in scope as querysets (never lists)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_date

from releaseportal.errors import InvalidInput, NotFound
from releaseportal.input import parse_id

from ..models import EvidencePack


@dataclass(frozen=True)
class ControlItem:
    """One named control of a framework, and the reconciliation exceptions (control.py) that
    are findings against it. An item with no exception codes is evidenced by the pack's files."""

    id: str
    name: str
    evidenced_by: str
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlPack:
    key: str
    title: str
    # Only production deployments of services in this compliance scope (None: every production deployment).
    compliance_scope: str | None
    items: tuple[ControlItem, ...]


_AUTHORISED = ("no_change", "change_not_approved", "approved_after_deployment", "change_for_other_service")
_GATE = "gate_decisions.json per change; deployments flagged unauthorized in listings/deployments.csv"
_CHAIN = "audit/chain.jsonl and audit/checkpoint.json; audit_events.jsonl per change"

# Every pack is built from the same records (deployments, changes, approvals, overrides, gate
# decisions, evidence documents, the audit chain); the frameworks differ in population and in
# which control each finding is held against.
CONTROL_PACKS = {pack.key: pack for pack in (
    ControlPack("sox_change_management",
                "SOX change management: every production deployment reconciled to its approved change", None, (
                    ControlItem("ITGC-CM-1", "Changes are authorised and approved before production",
                                "listings/exceptions.csv; approvals.json per change", _AUTHORISED),
                    ControlItem("ITGC-CM-2", "Segregation of duties: no self-approval",
                                "approvals.json per change", ("self_approved",)),
                    ControlItem("ITGC-CM-3", "Emergency changes are approved retrospectively",
                                "emergency_overrides.json per change", ("emergency_without_retrospective_approval",)),
                    ControlItem("ITGC-CM-4", "Only gate-approved deployments reach production", _GATE,
                                ("deployed_without_gate_approval",)),
                    ControlItem("ITGC-CM-5", "The change record is complete and tamper-evident", _CHAIN),
                )),
    ControlPack("hipaa_change_control",
                "HIPAA change control: production changes to ePHI systems evaluated, authorised and audited",
                "hipaa", (
                    ControlItem("164.308(a)(8)", "Evaluation: changes evaluated and approved before production",
                                "listings/exceptions.csv; approvals.json per change", _AUTHORISED),
                    ControlItem("164.308(a)(3)(ii)(A)", "Authorization and supervision: no self-approval",
                                "approvals.json per change", ("self_approved",)),
                    ControlItem("164.308(a)(6)(ii)", "Security incident response: emergency changes reviewed after",
                                "emergency_overrides.json per change", ("emergency_without_retrospective_approval",)),
                    ControlItem("164.308(a)(1)(ii)(D)", "Information system activity review: every deployment "
                                "went through the gate", _GATE, ("deployed_without_gate_approval",)),
                    ControlItem("164.312(b)", "Audit controls: activity recorded and examinable", _CHAIN),
                    ControlItem("164.312(c)(1)", "Integrity: deployed artifacts identified by digest with their "
                                "evidence", "evidence_documents.json per change; artifact digests in the listings"),
                )),
    ControlPack("pci_dss_6_5_change_control",
                "PCI DSS 6.5 change control: changes to cardholder-data systems managed by documented procedure",
                "pci", (
                    ControlItem("6.5.1", "Changes follow the change procedure: reason, approval by authorised "
                                "parties, documented before production", "listings/exceptions.csv; change.json and "
                                "approvals.json per change", (*_AUTHORISED, "emergency_without_retrospective_approval")),
                    ControlItem("6.5.2", "On completion, PCI DSS requirements confirmed (the gate's checks passed)",
                                _GATE, ("deployed_without_gate_approval",)),
                    ControlItem("6.5.4", "Separation of roles: the requester or implementer does not approve",
                                "approvals.json per change", ("self_approved",)),
                    ControlItem("10.2", "Audit logs of the changes are complete and protected", _CHAIN),
                )),
)}
CONTROLS = {key: pack.title for key, pack in CONTROL_PACKS.items()}


def service_choices() -> list[tuple[str, str]]:
    """(slug, name) of every service, by name: every portal member reads the catalog
    (apps/catalog/permissions.py), so an auditor may pick any of them."""
    from apps.catalog.models import Service

    return list(Service.objects.order_by("name").values_list("slug", "name"))


# The request fields each scope uses, in form order (the form shows only these).
SCOPE_FIELDS: dict[str, tuple[str, ...]] = {
    "change": ("change",),
    "release": ("service", "version"),
    "service_period": ("service", "period_start", "period_end"),
    "control_period": ("control", "period_start", "period_end"),
}


def control_items(control: str, exception_counts: dict[str, int]) -> list[dict[str, Any]]:
    """The pack's named controls with the findings held against each."""
    pack = CONTROL_PACKS.get(control)
    if pack is None:
        return []
    return [{"id": item.id, "name": item.name, "evidenced_by": item.evidenced_by,
             "exception_codes": list(item.exceptions),
             "findings": sum(exception_counts.get(code, 0) for code in item.exceptions)} for item in pack.items]
MAX_PERIOD_DAYS = 400


def _date(data: dict[str, Any], name: str, errors: dict[str, list[str]]) -> dt.date | None:
    raw = data.get(name)
    if raw in (None, ""):
        errors[name] = ["Required for this scope (YYYY-MM-DD)."]
        return None
    try:
        value = parse_date(str(raw))
    except ValueError:
        value = None
    if value is None:
        errors[name] = ["Not a date (YYYY-MM-DD)."]
    return value


def _change_ref(raw: Any):
    from apps.changes.models import ChangeRequest

    text = str(raw or "").strip()
    if not text:
        return None
    query = Q(number__iexact=text)
    if (pk := parse_id(text)) is not None:
        query |= Q(pk=pk)
    return ChangeRequest.objects.filter(query).first()


def normalise_parameters(scope: str, data: dict[str, Any]) -> dict[str, Any]:
    """Canonical parameters of a pack: only what the scope uses, as strings, so the same request
    always reads the same (reproducibility starts here)."""
    from apps.catalog.models import Service

    errors: dict[str, list[str]] = {}
    if scope not in EvidencePack.Scope.values:
        raise InvalidInput("Unknown scope.", code="invalid_scope",
                           fields={"scope": [f"One of: {', '.join(EvidencePack.Scope.values)}."]})
    params: dict[str, Any] = {"scope": scope}
    if scope == EvidencePack.Scope.CHANGE:
        change = _change_ref(data.get("change"))
        if change is None:
            raise NotFound("No such change request.", fields={"change": ["No change request with this id or number."]})
        params["change"] = change.number
    if scope in (EvidencePack.Scope.RELEASE, EvidencePack.Scope.SERVICE_PERIOD):
        text = str(data.get("service") or "").strip()
        # A person types the name they read ("Payments API"), a pipeline the slug: both name it.
        slug = (Service.objects.filter(Q(slug=text) | Q(name__iexact=text)).order_by("slug")
                .values_list("slug", flat=True).first()) if text else None
        if not text:
            errors["service"] = ["Required for this scope (the service's name or slug)."]
        elif slug is None:
            errors["service"] = [f"No service named '{text}' (give its name or slug)."]
        params["service"] = slug or text
    if scope == EvidencePack.Scope.RELEASE:
        version = str(data.get("version") or "").strip()
        if not version:
            errors["version"] = ["Required for a release pack: the version deployed."]
        params["version"] = version
    if scope == EvidencePack.Scope.CONTROL_PERIOD:
        control = str(data.get("control") or "").strip()
        if control not in CONTROLS:
            errors["control"] = [f"One of: {', '.join(CONTROLS)}."]
        params["control"] = control
    if scope in (EvidencePack.Scope.SERVICE_PERIOD, EvidencePack.Scope.CONTROL_PERIOD):
        start = _date(data, "period_start", errors)
        end = _date(data, "period_end", errors)
        if start and end:
            if end < start:
                errors["period_end"] = ["Ends before period_start."]
            elif (end - start).days > MAX_PERIOD_DAYS:
                errors["period_end"] = [f"A period is at most {MAX_PERIOD_DAYS} days."]
            params["period_start"], params["period_end"] = start.isoformat(), end.isoformat()
    if errors:
        raise InvalidInput("The pack parameters are not valid.", code="invalid_parameters", fields=errors)
    return params


def period_bounds(params: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00 UTC, day after end 00:00 UTC): period_end is inclusive."""
    start = dt.datetime.combine(dt.date.fromisoformat(params["period_start"]), dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(dt.date.fromisoformat(params["period_end"]) + dt.timedelta(days=1), dt.time.min,
                              tzinfo=dt.UTC)
    return start, end


def title_for(params: dict[str, Any]) -> str:
    scope = params["scope"]
    if scope == "change":
        return f"Change {params['change']}"
    if scope == "release":
        return f"Release {params['service']} {params['version']}"
    period = f"{params.get('period_start')} to {params.get('period_end')}"
    if scope == "service_period":
        return f"Service {params['service']}, {period}"
    return f"Control {params['control']}, {period}"


def deployments_in_scope(params: dict[str, Any]) -> QuerySet:
    """The deployments a pack lists (and reconciles, when in production)."""
    from apps.delivery.models import Deployment

    qs = Deployment.objects.annotate(at=Coalesce("finished_at", "started_at"))
    scope = params["scope"]
    if scope == "change":
        return qs.filter(change__number=params["change"])
    if scope == "release":
        return qs.filter(service__slug=params["service"]).filter(
            Q(version=params["version"]) | Q(artifact__version=params["version"]))
    start, end = period_bounds(params)
    qs = qs.filter(at__gte=start, at__lt=end)
    if scope == "service_period":
        return qs.filter(service__slug=params["service"])
    qs = qs.filter(environment__is_production=True)
    pack = CONTROL_PACKS.get(params.get("control", ""))
    if pack is not None and pack.compliance_scope:
        from apps.catalog.models import Service

        # Compliance scopes are a JSON list: matched here, portably (the catalog is small).
        in_scope = [pk for pk, scopes in Service.objects.values_list("pk", "compliance_scopes")
                    if pack.compliance_scope in (scopes or [])]
        qs = qs.filter(service_id__in=in_scope)
    return qs


def changes_in_scope(params: dict[str, Any], deployments: QuerySet) -> QuerySet:
    from apps.changes.models import ChangeRequest

    linked = Q(pk__in=deployments.exclude(change__isnull=True).values("change_id"))
    if params["scope"] == "change":
        return ChangeRequest.objects.filter(number=params["change"])
    if params["scope"] == "service_period":
        start, end = period_bounds(params)
        return ChangeRequest.objects.filter(
            linked | Q(service__slug=params["service"], created_at__gte=start, created_at__lt=end))
    return ChangeRequest.objects.filter(linked)
