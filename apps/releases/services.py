"""Release planning services: every write of the releases app. Each one is one transaction with
its history rows (atomic_as) and exactly one audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.roles import OPERATIONS_LEAD, PRODUCT_OWNER, SECURITY_OFFICER
from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_stamp
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from . import cadence as cadence_rules
from . import planning
from .models import (
    Cadence,
    OffCadenceJustification,
    Release,
    ReleaseChange,
    ReleaseService,
    ReleaseState,
    ReleaseTrain,
    ScopeException,
    ScopeSignoff,
    ServiceDependency,
    SignoffRole,
    TrainReason,
    TrainService,
)

# Which account role signs for which sign-off of a train.
SIGNOFF_ACCOUNT_ROLES = {SignoffRole.PRODUCT: PRODUCT_OWNER, SignoffRole.SECURITY: SECURITY_OFFICER,
                         SignoffRole.OPERATIONS: OPERATIONS_LEAD}
ACTIVE_STATES = (ReleaseState.PLANNING, ReleaseState.SCOPE_LOCKED, ReleaseState.IN_PROGRESS)
CLOSED_STATES = (ReleaseState.RELEASED, ReleaseState.CANCELLED)
RELEASE_TRANSITIONS = {
    ReleaseState.PLANNING: {ReleaseState.SCOPE_LOCKED, ReleaseState.CANCELLED},
    ReleaseState.SCOPE_LOCKED: {ReleaseState.IN_PROGRESS, ReleaseState.CANCELLED},
    ReleaseState.IN_PROGRESS: {ReleaseState.RELEASED, ReleaseState.CANCELLED},
    ReleaseState.RELEASED: set(),
    ReleaseState.CANCELLED: set(),
}
_DEPENDENCY_LOCK_KEY = 0x5250444550454E44  # "RPDEPEND": serialises dependency edits (cycle checks)


# --- trains ---------------------------------------------------------------------------------

def _clean_train(*, cadence: str, rrule: str, anchor: datetime, reason: str, signoff_roles: list[str],
                 window_hours: int) -> list[str]:
    if cadence not in Cadence.values:
        raise InvalidInput("Unknown cadence.", fields={"cadence": [f"One of {', '.join(Cadence.values)}."]})
    if reason not in TrainReason.values:
        raise InvalidInput("Unknown reason.", fields={"reason": [f"One of {', '.join(TrainReason.values)}."]})
    if cadence == Cadence.CUSTOM:
        cadence_rules.validate_rrule(rrule, anchor)
    elif rrule:
        raise InvalidInput("An RRULE is only for the custom cadence.", code="invalid_rrule",
                           fields={"rrule": ["Only with cadence=custom."]})
    roles = list(dict.fromkeys(signoff_roles or []))
    unknown = [r for r in roles if r not in SignoffRole.values]
    if unknown or not roles:
        raise InvalidInput("A train names the sign-offs its scope exceptions need.",
                           fields={"signoff_roles": [f"One or more of {', '.join(SignoffRole.values)}."]})
    if not 1 <= int(window_hours) <= 24 * 31:
        raise InvalidInput("A window lasts 1 hour to 31 days.", fields={"window_hours": ["1 to 744."]})
    return roles


def train_create(*, actor: Any, slug: str, name: str, cadence: str, reason: str, signoff_roles: list[str],
                 owners: list | None = None, services: list | None = None, rrule: str = "",
                 cadence_anchor: datetime | None = None, window_hours: int = 24, description: str = "") -> ReleaseTrain:
    anchor = cadence_anchor or timezone.now()
    roles = _clean_train(cadence=cadence, rrule=rrule, anchor=anchor, reason=reason, signoff_roles=signoff_roles,
                         window_hours=window_hours)
    if ReleaseTrain.objects.filter(slug=slug).exists():
        raise Conflict(f"A train '{slug}' exists.", code="duplicate", fields={"slug": ["Taken."]})
    with atomic_as(actor) as resolved:
        train = ReleaseTrain.objects.create(slug=slug, name=name, description=description, cadence=cadence,
                                            rrule=rrule.strip(), cadence_anchor=anchor, window_hours=window_hours,
                                            reason=reason, signoff_roles=roles)
        train.owners.set(owners or [])
        moved = _join_services(train, services or [])
        audit_event_record(action="release_train.created", target=train, actor=resolved, details={
            "cadence": cadence, "rrule": train.rrule, "reason": reason, "signoff_roles": roles,
            "owners": [u.username for u in owners or []], "services": [s.slug for s in services or []],
            "moved_from_other_trains": moved})
    return train


def _join_services(train: ReleaseTrain, services: list) -> dict[str, str]:
    """Put `services` on `train` (a service is on one train: it leaves its previous one)."""
    moved = {}
    existing = {link.service_id: link for link in TrainService.objects.filter(service__in=services)
                .select_related("train")}
    for service in services:
        link = existing.get(service.pk)
        if link is None:
            TrainService.objects.create(train=train, service=service)
        elif link.train_id != train.pk:
            moved[service.slug] = link.train.slug
            link.train = train
            link.save()
    return moved


def train_services_set(*, train: ReleaseTrain, services: list, actor: Any) -> ReleaseTrain:
    with atomic_as(actor) as resolved:
        keep = {s.pk for s in services}
        removed = list(TrainService.objects.filter(train=train).exclude(service_id__in=keep)
                       .values_list("service__slug", flat=True))
        for link in TrainService.objects.filter(train=train).exclude(service_id__in=keep):
            history_stamp(link, resolved)
            link.delete()
        moved = _join_services(train, services)
        audit_event_record(action="release_train.services_set", target=train, actor=resolved, details={
            "services": sorted(s.slug for s in services), "removed": sorted(removed), "moved_from_other_trains": moved})
    return train


# --- off-cadence changes --------------------------------------------------------------------

def train_of_service(service_id: int) -> ReleaseTrain | None:
    link = TrainService.objects.filter(service_id=service_id).select_related("train").first()
    return link.train if link else None


def off_cadence_refusal(change, to_state: str):
    """The guard `releases.cadence` (apps.changes.transition_guards): a production change whose
    planned start is outside its train's windows cannot be scheduled without a justification.
    Emergency changes are exempt (their override carries the reason)."""
    if not change.environment.is_production or change.change_type.is_emergency:
        return None
    train = train_of_service(change.service_id)
    if train is None or cadence_rules.is_on_cadence(train, change.planned_start):
        return None
    if OffCadenceJustification.objects.filter(change_id=change.pk).exists():
        return None
    message = (f"{change.number or 'This change'} is planned outside the {train.name} train's {train.cadence} "
               "cadence: record why before scheduling it.")
    return Conflict(message, code="off_cadence_justification_required", fields={"justification": [message]})


def off_cadence_justification_record(*, change, text: str, actor: Any) -> OffCadenceJustification:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Say why the change runs off its train's cadence.",
                           fields={"justification": ["This field may not be blank."]})
    with atomic_as(actor) as resolved:
        existing = OffCadenceJustification.objects.select_for_update().filter(change=change).first()
        if existing is None:
            justification = OffCadenceJustification.objects.create(change=change, text=text[:4000],
                                                                   recorded_by=resolved.user)
        else:
            history_stamp(existing, resolved)
            existing.text, existing.recorded_by, existing.recorded_at = text[:4000], resolved.user, timezone.now()
            existing.save()
            justification = existing
        audit_event_record(action="change.off_cadence_justified", target=change, actor=resolved,
                           details={"justification": text[:500], "replaced": existing is not None})
    return justification


# --- releases -------------------------------------------------------------------------------

def _edges() -> list[tuple[int, int]]:
    return list(ServiceDependency.objects.values_list("service_id", "depends_on_id"))


def _plan_for(service_ids: list[int], slugs: dict[int, str], edges: list[tuple[int, int]]) -> dict:
    before = planning.release_graph(service_ids, edges)
    layers = planning.waves(before)
    return {"waves": layers, "before": {str(k): sorted(v) for k, v in before.items() if v},
            "slugs": {str(k): slugs[k] for k in service_ids}}


RELEASE_NAME_MAX = Release._meta.get_field("name").max_length


def release_create(*, actor: Any, name: str, train: ReleaseTrain, planned_start: datetime, scope_lock_at: datetime,
                   services: list) -> Release:
    if not (name or "").strip():
        raise InvalidInput("A release needs a name.", fields={"name": ["This field may not be blank."]})
    if len(name.strip()) > RELEASE_NAME_MAX:
        raise InvalidInput(f"A release name is {RELEASE_NAME_MAX} characters at most.",
                           fields={"name": [f"At most {RELEASE_NAME_MAX} characters."]})
    if scope_lock_at > planned_start:
        raise InvalidInput("The scope locks before the release starts.",
                           fields={"scope_lock_at": ["Must be at or before planned_start."]})
    if not services:
        raise InvalidInput("A release ships at least one service.", fields={"services": ["At least one."]})
    on_train = set(TrainService.objects.filter(train=train, service__in=services).values_list("service_id", flat=True))
    strangers = sorted(s.slug for s in services if s.pk not in on_train)
    if strangers:
        raise InvalidInput(f"Not on the {train.name} train: {', '.join(strangers)}.", code="service_not_on_train",
                           fields={"services": [f"Not on this train: {', '.join(strangers)}."]})
    with atomic_as(actor) as resolved:
        release = Release.objects.create(train=train, name=name.strip(), planned_start=planned_start,
                                         scope_lock_at=scope_lock_at, created_by=resolved.user)
        ReleaseService.objects.bulk_create([ReleaseService(release=release, service=s) for s in services])
        release.plan = _plan_for([s.pk for s in services], {s.pk: s.slug for s in services}, _edges())
        release.save(update_fields=["plan"])
        audit_event_record(action="release.created", target=release, actor=resolved, details={
            "train": train.slug, "planned_start": planned_start.isoformat(), "scope_lock_at": scope_lock_at.isoformat(),
            "services": sorted(s.slug for s in services)})
    return release


def is_scope_locked(release: Release, at: datetime | None = None) -> bool:
    """Locked once the state says so or once `scope_lock_at` has passed, whichever comes first."""
    return release.state != ReleaseState.PLANNING or (at or timezone.now()) >= release.scope_lock_at


def release_transition(*, release: Release, to_state: str, actor: Any, reason: str = "") -> Release:
    """The one way a release changes state: row-locked, in history, one audit event."""
    if to_state not in ReleaseState.values:
        raise InvalidInput(f"Unknown state '{to_state}'.", fields={"to_state": ["Unknown state."]})
    with atomic_as(actor) as resolved:
        locked = Release.objects.select_for_update().get(pk=release.pk)
        from_state = locked.state
        if to_state not in RELEASE_TRANSITIONS[from_state]:
            raise Conflict(f"A release in state '{from_state}' cannot move to '{to_state}'.",
                           code="invalid_transition", fields={"to_state": [f"{from_state} → {to_state} is not allowed"]})
        if to_state == ReleaseState.IN_PROGRESS:
            from .checkpoints import release_checkpoints

            changes = [link.change for link in ReleaseChange.objects.filter(release=locked)
                       .select_related("change", "change__service")]
            unmet = [c for c in release_checkpoints(changes) if c["status"] == "open"]
            if unmet:
                names = "; ".join(f"{c['scope']} {c['name']} ({', '.join(c['missing'])})" for c in unmet)
                raise Conflict(f"{locked.name} cannot start before its compliance checkpoints: {names}.",
                               code="checkpoint_unmet", fields={"checkpoints": [names]})
        if to_state == ReleaseState.RELEASED:
            waiting = undeployed_services(locked)
            if waiting:
                names = ", ".join(waiting)
                raise Conflict(f"{locked.name} cannot be marked released: not yet deployed to production: {names}.",
                               code="waves_not_deployed", fields={"waves": [f"Not in production: {names}"]})
        now = timezone.now()
        locked.state = to_state
        if to_state == ReleaseState.SCOPE_LOCKED and locked.scope_lock_at > now:
            locked.scope_lock_at = now  # locked early: the lock time is when it happened
        if to_state == ReleaseState.RELEASED:
            locked.released_at = now
        locked._change_reason = (reason or f"{from_state} → {to_state}")[:100]
        history_stamp(locked, resolved)
        locked.save()
        audit_event_record(action=f"release.{to_state}", target=locked, actor=resolved,
                           details={"from": from_state, "to": to_state, "reason": reason})
    return locked


def undeployed_services(release: Release) -> list[str]:
    """The services (slugs) with a change in `release` that no succeeded deployment of one of the
    release's changes has taken to the last environment (production) yet: a release is released
    when every wave has shipped, not when someone says so. Two queries."""
    from apps.catalog.models import Environment
    from apps.delivery.models import Deployment

    last = Environment.objects.order_by("-order").values_list("pk", flat=True).first()
    pending = dict(ReleaseChange.objects.filter(release=release)
                   .values_list("change__service_id", "change__service__slug").distinct())
    if last is None or not pending:
        return []
    shipped = set(Deployment.objects.filter(change__release_links__release=release, environment_id=last,
                                            status=Deployment.Status.SUCCEEDED)
                  .values_list("service_id", flat=True).distinct())
    return sorted(slug for pk, slug in pending.items() if pk not in shipped)


def _check_change_fits(release: Release, change) -> None:
    if release.state in CLOSED_STATES:
        raise Conflict(f"The release is {release.state}: its scope is closed.", code="release_closed",
                       fields={"change": ["The release is closed."]})
    if not ReleaseService.objects.filter(release=release, service_id=change.service_id).exists():
        raise InvalidInput(f"{change.number} changes {change.service.slug}, which this release does not ship.",
                           code="service_not_in_release", fields={"change": ["Its service is not in the release."]})
    if ReleaseChange.objects.filter(release=release, change=change).exists():
        raise Conflict(f"{change.number} is already in the scope.", code="already_in_scope",
                       fields={"change": ["Already in scope."]})
    other = (ReleaseChange.objects.filter(change=change, release__state__in=ACTIVE_STATES)
             .exclude(release=release).select_related("release").first())
    if other is not None:
        raise Conflict(f"{change.number} is already in the release {other.release.name}.",
                       code="change_in_another_release", fields={"change": ["In another active release."]})


def release_change_add(*, release: Release, change, actor: Any) -> ReleaseChange:
    """Add a change to the scope. After the lock it needs an approved scope exception for this
    change (409 `scope_locked` otherwise); it is then marked as added after the lock (scope creep)."""
    with atomic_as(actor) as resolved:
        locked = Release.objects.select_for_update().select_related("train").get(pk=release.pk)
        _check_change_fits(locked, change)
        exception = None
        after_lock = is_scope_locked(locked)
        if after_lock:
            exception = (ScopeException.objects.select_for_update()
                         .filter(release=locked, change=change).first())
            if exception is None or exception.state != ScopeException.State.APPROVED:
                if exception is None:
                    detail = "request a scope exception signed by " + ", ".join(locked.train.signoff_roles)
                else:
                    signed = set(exception.signoffs.values_list("role", flat=True))
                    missing = [r for r in exception.required_roles if r not in signed]
                    detail = "its scope exception still needs the sign-off of " + ", ".join(missing)
                raise Conflict(f"The scope of {locked.name} is locked: {detail}.", code="scope_locked",
                               fields={"change": [f"Scope locked: {detail}."]})
            exception.state = ScopeException.State.USED
            history_stamp(exception, resolved)
            exception.save()
        link = ReleaseChange.objects.create(release=locked, change=change, added_by=resolved.user,
                                            after_lock=after_lock, exception=exception)
        audit_event_record(action="release.change_added", target=locked, actor=resolved, details={
            "change": change.number, "after_lock": after_lock, "scope_exception": exception.pk if exception else None})
    return link


def scope_exception_request(*, release: Release, change, reason: str, actor: Any) -> ScopeException:
    if not (reason or "").strip():
        raise InvalidInput("Say why the change must join the locked scope.",
                           fields={"reason": ["This field may not be blank."]})
    with atomic_as(actor) as resolved:
        locked = Release.objects.select_for_update().select_related("train").get(pk=release.pk)
        _check_change_fits(locked, change)
        if not is_scope_locked(locked):
            raise Conflict("The scope is still open: add the change directly.", code="scope_open",
                           fields={"change": ["The scope is open."]})
        if ScopeException.objects.filter(release=locked, change=change).exists():
            raise Conflict(f"A scope exception for {change.number} exists.", code="duplicate",
                           fields={"change": ["Already requested."]})
        exception = ScopeException.objects.create(release=locked, change=change, reason=reason.strip()[:4000],
                                                  requested_by=resolved.user,
                                                  required_roles=list(locked.train.signoff_roles))
        audit_event_record(action="release.scope_exception_requested", target=exception, actor=resolved, details={
            "release": locked.pk, "change": change.number, "reason": reason.strip()[:500],
            "required_roles": exception.required_roles})
    return exception


def signoff_refusal(exception: ScopeException, role: str, user):
    """Why `user` may not sign `exception` for `role` (the other sign-offs are checked by
    scope_exception_sign under the row lock), as the error to raise, or None."""
    if role not in exception.required_roles:
        return InvalidInput(f"This exception needs no {role} sign-off.", fields={"role": ["Not required."]})
    if not user.has_role(SIGNOFF_ACCOUNT_ROLES[role]):
        message = f"Signing for {role} needs the role {SIGNOFF_ACCOUNT_ROLES[role]}."
        return NotAllowed(message, code="permission_denied", fields={"role": [message]})
    if user.pk in (exception.requested_by_id, exception.change.requester_id):
        message = "Whoever asked for the exception, or filed the change, cannot sign it."
        return NotAllowed(message, code="segregation_of_duties", fields={"role": [message]})
    return None


def scope_exception_sign(*, exception: ScopeException, role: str, actor: Any, comment: str = "") -> ScopeSignoff:
    """One sign-off. Segregation of duties: each role by a different person, neither the one who
    asked for the exception nor the change's requester. The last sign-off approves it."""
    resolved = resolve_actor(actor)
    user = resolved.user
    if role not in SignoffRole.values:
        raise InvalidInput("Unknown sign-off role.", fields={"role": [f"One of {', '.join(SignoffRole.values)}."]})
    if user is None or user.is_service_account:
        raise NotAllowed("Scope exceptions are signed by people.", code="permission_denied")
    with atomic_as(resolved):
        locked = ScopeException.objects.select_for_update().select_related("change").get(pk=exception.pk)
        if locked.state != ScopeException.State.OPEN:
            raise Conflict("This scope exception is no longer open for sign-off.", code="exception_closed",
                           fields={"role": ["Not open."]})
        refusal = signoff_refusal(locked, role, user)
        if refusal is not None:
            raise refusal
        existing = {s.role: s.signer_id for s in locked.signoffs.all()}
        if role in existing:
            raise Conflict(f"The {role} sign-off is already given.", code="already_signed", fields={"role": ["Signed."]})
        if user.pk in existing.values():
            raise NotAllowed("One person signs one role of an exception.", code="segregation_of_duties",
                             fields={"role": ["You signed another role of this exception."]})
        try:
            with transaction.atomic():
                signoff = ScopeSignoff.objects.create(exception=locked, role=role, signer=user, comment=comment[:2000])
        except IntegrityError as exc:
            raise Conflict("This sign-off was just given.", code="already_signed") from exc
        approved = set(existing) | {role} >= set(locked.required_roles)
        if approved:
            locked.state = ScopeException.State.APPROVED
            locked.approved_at = timezone.now()
            history_stamp(locked, resolved)
            locked.save()
        audit_event_record(action="release.scope_exception_signed", target=locked, actor=resolved, details={
            "release": locked.release_id, "change": locked.change.number, "role": role, "approved": approved})
    return signoff


# --- dependencies ---------------------------------------------------------------------------

def _serialise_dependency_edits() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DEPENDENCY_LOCK_KEY])


def dependencies_set(*, service, depends_on: list, actor: Any) -> list:
    """Replace what `service` depends on. A cycle anywhere it would close: 400 `dependency_cycle`
    naming the path. The plans of the active releases are recomputed."""
    from apps.catalog.models import Service

    wanted = {s.pk: s for s in depends_on}
    if service.pk in wanted:
        raise InvalidInput(f"{service.slug} cannot depend on itself.", code="dependency_cycle",
                           fields={"depends_on": [f"{service.slug} → {service.slug}"]})
    with atomic_as(actor) as resolved:
        _serialise_dependency_edits()
        edges = [(a, b) for a, b in _edges() if a != service.pk] + [(service.pk, b) for b in wanted]
        cycle = planning.find_cycle(edges)
        if cycle is not None:
            if service.pk in cycle[:-1]:  # name it from the service being edited
                at = cycle.index(service.pk)
                cycle = cycle[at:-1] + cycle[:at] + [service.pk]
            slugs = dict(Service.objects.filter(pk__in=set(cycle)).values_list("pk", "slug"))
            path = " → ".join(slugs[pk] for pk in cycle)
            raise InvalidInput(f"These dependencies make a cycle: {path}.", code="dependency_cycle",
                               fields={"depends_on": [path]})
        current = {d.depends_on_id: d for d in ServiceDependency.objects.filter(service=service)}
        for pk, row in current.items():
            if pk not in wanted:
                history_stamp(row, resolved)
                row.delete()
        for pk in wanted:
            if pk not in current:
                ServiceDependency.objects.create(service=service, depends_on_id=pk)
        replanned = _replan_active(edges)
        audit_event_record(action="service.dependencies_set", target=service, actor=resolved, details={
            "depends_on": sorted(s.slug for s in depends_on),
            "before": sorted(Service.objects.filter(pk__in=current).values_list("slug", flat=True)),
            "releases_replanned": replanned})
    return depends_on


def _replan_active(edges: list[tuple[int, int]]) -> list[int]:
    releases = list(Release.objects.filter(state__in=ACTIVE_STATES).select_for_update())
    links: dict[int, dict[int, str]] = {}
    for release_id, service_id, slug in ReleaseService.objects.filter(release__in=releases).values_list(
            "release_id", "service_id", "service__slug"):
        links.setdefault(release_id, {})[service_id] = slug
    for release in releases:
        slugs = links.get(release.pk, {})
        plan = _plan_for(list(slugs), slugs, edges)
        if plan != release.plan:
            release.plan = plan
            release._change_reason = "dependencies changed: replanned"
            release.save(update_fields=["plan"])
    return [r.pk for r in releases]
