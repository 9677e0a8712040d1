"""Demo configuration: approved baselines of four services in staging and production (proposed
with a Configuration change by an engineer of the owning team, approved by its lead, through the
real services), observations from the CI bot, a runtime mismatch (payments-api runs Java 21 in
staging and Java 17 in production), one drift finding resolved as reverted (api-gateway in
staging, by the platform engineer yusuf) and one open drift finding on a must_match key
(checkout in production). Idempotent: nothing is added once a baseline exists."""

from __future__ import annotations

from datetime import timedelta

from apps.accounts.models import User
from apps.change_types.models import ChangeType
from apps.changes.services import approval_record, change_create, change_submit
from releaseportal.errors import PortalError

from .config_services import baseline_propose, drift_resolve, observation_record
from .models.config import ConfigBaseline, DriftFinding


def _s(value: str, *, secret: bool = False, must_match: bool = False) -> dict:
    return {"value": value, "secret": secret, "must_match": must_match}


def _settings(slug: str, env: str, **over) -> dict[str, dict]:
    db = f"jdbc:postgresql://{slug}-db.{env}.internal:5432/{slug.replace('-', '_')}"
    out = {
        "DATABASE_URL": _s(db, must_match=True),
        "DATABASE_PASSWORD": _s(f"vault://kv/{env}/{slug}/db#password", secret=True, must_match=True),
        "POOL_SIZE": _s("40" if env == "prod" else "10"),
        "LOG_LEVEL": _s("INFO" if env == "prod" else "DEBUG"),
        "HTTP_TIMEOUT_MS": _s("3000"),
        "FEATURE_NEW_CHECKOUT": _s("false", must_match=True),
    }
    out.update(over)
    return out


# service, requester (an engineer of the owning team), approver (its lead); the team's baselines.
PLANS = [
    ("payments-api", "alice", "payments-lead", {}),
    ("checkout", "sam", "storefront-lead", {}),
    ("auth-service", "victor", "identity-lead", {"SESSION_SIGNING_KEY": _s("aws-sm://prod/auth/session-key",
                                                                           secret=True, must_match=True)}),
    ("api-gateway", "yusuf", "infra-lead", {"RATE_LIMIT_RPS": _s("1000", must_match=True)}),
]
ENVIRONMENTS = ("staging", "prod")
RUNTIMES = {"java": "17.0.9", "node": "20.11.1"}


def _observed(settings: dict[str, dict]) -> dict[str, str]:
    return {key: entry["value"] for key, entry in settings.items()}


def _approved_baseline(ctx, *, config_type, service, env, requester, approver, settings, title):
    now = ctx.now
    change = change_create(actor=requester, title=title, change_type=config_type, service=service, environment=env,
                           description="Record the runtime settings the service runs with as its approved baseline.",
                           planned_start=now + timedelta(hours=2), planned_end=now + timedelta(hours=3),
                           rollback_plan="Restore the previous baseline version",
                           rollback_criteria={"error_rate_pct": 5, "window_minutes": 10})
    baseline_propose(service=service, environment=env, change=change, settings=settings, actor=requester)
    change = change_submit(change=change, actor=requester)
    approval_record(change=change, approver=approver, decision="approve", comment="Settings match the runbook")
    return ConfigBaseline.objects.get(change=change)


def seed_config(ctx) -> None:
    if ConfigBaseline.objects.exists():
        ctx.say("configuration baselines already present — skipped")
        return
    config_type = ChangeType.objects.filter(slug="configuration").first()
    bot = ctx.users.get("ci-bot") or User.objects.filter(username="ci-bot").first()
    if config_type is None or bot is None or not all(e in ctx.environments for e in ENVIRONMENTS):
        ctx.say("configuration demo needs the Configuration change type, ci-bot and staging/prod — skipped")
        return
    users = {u.username: u for u in User.objects.filter(username__in={p for plan in PLANS for p in plan[1:3]})}
    now = ctx.now
    made = 0
    for slug, requester, approver, extra in PLANS:
        service = ctx.services.get(slug)
        if service is None or requester not in users or approver not in users:
            continue
        for env_slug in ENVIRONMENTS:
            env = ctx.environments[env_slug]
            settings = _settings(slug, env_slug, **extra)
            try:
                _approved_baseline(ctx, config_type=config_type, service=service, env=env,
                                   requester=users[requester], approver=users[approver], settings=settings,
                                   title=f"Configuration baseline of {slug} in {env_slug}")
                if slug == "api-gateway" and env_slug == "staging":  # a second version: the diff has something to show
                    settings = _settings(slug, env_slug, **{**extra, "POOL_SIZE": _s("20"), "LOG_LEVEL": _s("INFO"),
                                                            "RETRY_BUDGET": _s("3")})
                    del settings["HTTP_TIMEOUT_MS"]
                    _approved_baseline(ctx, config_type=config_type, service=service, env=env,
                                       requester=users[requester], approver=users[approver], settings=settings,
                                       title="api-gateway staging: larger pool, retry budget")
            except PortalError as exc:
                ctx.say(f"configuration baseline of {slug} in {env_slug} skipped: {exc.message}")
                continue
            made += 1
            runtimes = dict(RUNTIMES)
            if slug == "payments-api" and env_slug == "staging":
                runtimes["java"] = "21.0.2"  # staging moved to Java 21; production still runs 17: runtime_parity
            observation_record(service=service, environment=env, source="pipeline",
                               observed_at=now - timedelta(hours=6), settings=_observed(settings), runtimes=runtimes,
                               actor=bot)
            if slug == "api-gateway" and env_slug == "staging":
                # Someone raised the rate limit by hand; the next agent run saw it put back: reverted.
                observation_record(service=service, environment=env, source="agent", observed_at=now - timedelta(hours=4),
                                   settings={**_observed(settings), "RATE_LIMIT_RPS": "5000"}, runtimes=runtimes,
                                   actor=bot)
                observation_record(service=service, environment=env, source="agent", observed_at=now - timedelta(hours=2),
                                   settings=_observed(settings), runtimes=runtimes, actor=bot)
                finding = DriftFinding.objects.get(service=service, environment=env, key="RATE_LIMIT_RPS")
                drift_resolve(finding=finding, resolution="reverted", change=None, actor=users[requester])
            if slug == "checkout" and env_slug == "prod":
                # The new checkout flag switched on in production without a change: open, blocks the gate.
                observation_record(service=service, environment=env, source="agent", observed_at=now - timedelta(hours=1),
                                   settings={**_observed(settings), "FEATURE_NEW_CHECKOUT": "true"},
                                   runtimes=runtimes, actor=bot)
    ctx.say(f"{made} configuration baselines, {DriftFinding.objects.filter(status='open').count()} open and "
            f"{DriftFinding.objects.filter(status='resolved').count()} resolved drift findings")
