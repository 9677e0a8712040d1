"""Demo release planning: sign-off holders (existing demo people gain the roles), SOX/PCI/HIPAA
checkpoints, two trains (a quarterly regulated one for the payments estate, a continuous one for
the storefront), service dependencies, a regulated release in progress with its scope locked, a
late change let in by a signed scope exception, its first wave shipped, and a shipped storefront
release; then the retrospectives (demo_retros). Idempotent: run twice, same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group

from apps.accounts.roles import ensure_roles
from apps.changes.models import ChangeRequest, ChangeState
from apps.delivery.models import Deployment
from releaseportal.errors import PortalError

from . import services
from .checkpoints import checkpoint_waive, compliance_scope_define, status_for_changes, waiver_refusal
from .demo_retros import seed_retros
from .demo_templates import seed_templates
from .models import ComplianceScope, Release, ReleaseChange, ReleaseState, ReleaseTrain, ScopeException

# Who holds the sign-off roles, in the order they are asked to sign (the first one not tied to the change).
SIGNERS = {"payments-lead": "product_owner", "storefront-lead": "product_owner", "carol": "security_officer",
           "identity-lead": "security_officer", "infra-lead": "operations_lead", "yusuf": "operations_lead"}
SIGN_ORDER = {"product": ["payments-lead", "storefront-lead"], "security": ["carol", "identity-lead"],
              "operations": ["infra-lead", "yusuf"]}
REGULATED = ["ledger", "card-vault", "payments-api", "payouts"]
CONTINUOUS = ["web-store", "catalog-search", "recommendations"]
DEPENDENCIES = {"payments-api": ["ledger", "card-vault"], "payouts": ["ledger", "payments-api"],
                "web-store": ["catalog-search"], "recommendations": ["catalog-search"]}
SCOPES = {
    "sox": ("SOX", 2555, "security_officer", [
        {"name": "Tested and reviewed", "required_evidence_kinds": ["junit"],
         "required_approval_stages": ["Technical review"], "control": "sox_change_management"}]),
    "pci": ("PCI DSS", 365 * 3, "security_officer", [
        {"name": "Scanned for vulnerabilities", "required_evidence_kinds": ["sarif"], "control": "pci_dss_6_5"}]),
    "hipaa": ("HIPAA", 365 * 6, "security_officer", [
        {"name": "Security review", "required_approval_stages": ["Security"], "control": "hipaa_change_control"}]),
}


def _quarter_start(now: datetime) -> datetime:
    return datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, 8, tzinfo=UTC)


def _change_for(slug: str, exclude: set[int]) -> ChangeRequest | None:
    return (ChangeRequest.objects.select_related("service", "environment")
            .filter(service__slug=slug, environment__is_production=True,
                    state__in=[ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.COMPLETED,
                               ChangeState.CLOSED])
            .exclude(pk__in=exclude).exclude(release_links__isnull=False).order_by("-created_at").first())


def seed(ctx) -> None:
    heidi = ctx.users.get("heidi")
    if heidi is None or not all(s in ctx.services for s in REGULATED + CONTINUOUS):
        return
    ensure_roles()
    for username, role in SIGNERS.items():
        user = ctx.users.get(username)
        if user is not None:
            user.groups.add(Group.objects.get(name=role))
            user.__dict__.pop("_role_names", None)  # the accounts demo's instance cached its roles
    for key, (name, days, role, checkpoints) in SCOPES.items():
        if not ComplianceScope.objects.filter(key=key).exists():
            compliance_scope_define(key=key, name=name, retention_days=days, waiver_role=role,
                                    checkpoints=checkpoints, actor=heidi)
    svc = ctx.services
    if not ReleaseTrain.objects.filter(slug="regulated").exists():
        services.train_create(actor=heidi, slug="regulated", name="Regulated payments", cadence="quarterly",
                              reason="regulatory", signoff_roles=["product", "security", "operations"],
                              cadence_anchor=_quarter_start(ctx.now), window_hours=72, owners=[heidi],
                              services=[svc[s] for s in REGULATED],
                              description="SOX and PCI estate: ships at the start of each quarter.")
    if not ReleaseTrain.objects.filter(slug="storefront").exists():
        services.train_create(actor=heidi, slug="storefront", name="Storefront", cadence="continuous",
                              reason="business_cycle", signoff_roles=["product"], owners=[heidi],
                              services=[svc[s] for s in CONTINUOUS])
    for slug, needs in DEPENDENCIES.items():
        current = set(svc[slug].dependencies.values_list("depends_on__slug", flat=True))
        if current != set(needs):
            services.dependencies_set(service=svc[slug], depends_on=[svc[n] for n in needs], actor=heidi)
    _regulated_release(ctx, heidi)
    _storefront_release(ctx, heidi)
    seed_templates(ctx)
    seed_retros(ctx)
    ctx.say(f"release trains: {ReleaseTrain.objects.count()}, releases: {Release.objects.count()}")


def _regulated_release(ctx, heidi) -> None:
    quarter = _quarter_start(ctx.now)
    name = f"Payments {quarter:%Y} Q{(quarter.month - 1) // 3 + 1}"
    if Release.objects.filter(name=name).exists():
        return
    train = ReleaseTrain.objects.get(slug="regulated")
    svc = ctx.services
    release = services.release_create(actor=heidi, name=name, train=train, services=[svc[s] for s in REGULATED],
                                      planned_start=ctx.now + timedelta(hours=2),
                                      scope_lock_at=ctx.now + timedelta(hours=1))
    taken: set[int] = set()
    scoped = []
    for slug in REGULATED[:3]:
        change = _change_for(slug, taken)
        if change is not None:
            taken.add(change.pk)
            services.release_change_add(release=release, change=change, actor=heidi)
            scoped.append(change)
    release = services.release_transition(release=release, to_state=ReleaseState.SCOPE_LOCKED, actor=heidi,
                                          reason="scope agreed with product, security and operations")
    late = _change_for("payouts", taken)
    if late is not None:
        exception = services.scope_exception_request(
            release=release, change=late, actor=heidi,
            reason="Payout reconciliation fix the auditors asked for before quarter close")
        signed: set[int] = set()
        for role, usernames in SIGN_ORDER.items():
            signer = next((u for u in (ctx.users.get(n) for n in usernames) if u is not None and u.pk not in signed
                           and services.signoff_refusal(exception, role, u) is None), None)
            if signer is not None:
                services.scope_exception_sign(exception=exception, role=role, actor=signer, comment="Agreed.")
                signed.add(signer.pk)
        if ScopeException.objects.get(pk=exception.pk).state == ScopeException.State.APPROVED:
            services.release_change_add(release=release, change=late, actor=heidi)
            scoped.append(late)
    # Checkpoints the demo's changes lack are waived by the security officer (each waiver audited).
    officers = [u for u in (ctx.users.get(n) for n in SIGN_ORDER["security"]) if u is not None]
    for change in scoped:
        for row in status_for_changes([change])[change.pk]:
            officer = next((u for u in officers if waiver_refusal(row.checkpoint, change, u) is None), None)
            if row.status == "open" and officer is not None:
                checkpoint_waive(checkpoint=row.checkpoint, change=change, actor=officer,
                                 reason="Evidence held in the vendor's audit binder (demo).")
    try:
        release = services.release_transition(release=release, to_state=ReleaseState.IN_PROGRESS, actor=heidi)
    except PortalError:
        return
    # Wave one ships: ledger's change reaches staging and production, card-vault's staging.
    bot = ctx.users.get("ci-bot") or heidi
    links = {link.change.service.slug: link.change for link in
             ReleaseChange.objects.filter(release=release).select_related("change__service")}
    for slug, envs in (("ledger", ["staging", "prod"]), ("card-vault", ["staging"])):
        change = links.get(slug)
        for env_slug in envs:
            env = ctx.environments.get(env_slug)
            if change is None or env is None:
                continue
            services_deploy(service=svc[slug], environment=env, change=change, actor=bot,
                            at=ctx.now - timedelta(minutes=30))


def services_deploy(*, service, environment, change, actor, at) -> None:
    from apps.delivery.services import deployment_record

    deployment_record(service=service, environment=environment, actor=actor, status=Deployment.Status.SUCCEEDED,
                      change=change, started_at=at, finished_at=at + timedelta(minutes=5),
                      pipeline_run_id=f"demo-release-{change.pk}-{environment.slug}", check_privilege=False)


def _storefront_release(ctx, heidi) -> None:
    name = "Storefront spring refresh"
    if Release.objects.filter(name=name).exists():
        return
    train = ReleaseTrain.objects.get(slug="storefront")
    svc = ctx.services
    release = services.release_create(actor=heidi, name=name, train=train, services=[svc[s] for s in CONTINUOUS],
                                      planned_start=ctx.now + timedelta(hours=2),
                                      scope_lock_at=ctx.now + timedelta(hours=1))
    change = _change_for("web-store", set())
    if change is not None:
        services.release_change_add(release=release, change=change, actor=heidi)
    for state in (ReleaseState.SCOPE_LOCKED, ReleaseState.IN_PROGRESS, ReleaseState.RELEASED):
        if state == ReleaseState.RELEASED and change is not None:
            # It ships before it is released: its one wave reaches staging, then production.
            for env_slug in ("staging", "prod"):
                if env_slug in ctx.environments:
                    services_deploy(service=svc["web-store"], environment=ctx.environments[env_slug], change=change,
                                    actor=ctx.users.get("ci-bot") or heidi, at=ctx.now - timedelta(minutes=20))
        try:
            release = services.release_transition(release=release, to_state=state, actor=heidi)
        except PortalError:  # a checkpoint the demo change lacks: it stays where it is
            return
