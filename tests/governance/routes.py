"""The bypass table: for every route of the URLconf, who may change state through it.

When you add a route, add it here. tests/governance/test_route_table.py fails with
"unclassified state-changing route: <name>" for any route that accepts POST/PUT/PATCH/DELETE
(or a function view that does not restrict its methods) and has no entry, and
tests/governance/test_bypass_matrix.py then proves, for every entry, that each persona not in
`allowed` is refused and that nothing changed.

An entry is one of:
- `Write(...)`: the route changes state. `allowed` names the personas (tests/governance/conftest.py)
  that may succeed; every other persona of the surface (HTML or API) must be refused.
  `unjudged` names personas whose outcome another suite decides, each with the reason.
  `refusal="status"` means a refusal is a 403/404 (HTML) or 401/403/404 (API);
  `refusal="soft"` accepts a page that re-renders or redirects with the error (the view reports
  a service refusal as a message) — nothing may change either way.
  `control` names who proves the request well formed when no persona of the matrix may send it.
- `ReadOnly(reason)`: the view renders only; a POST to it must change nothing.
- `Public(reason)`: open to anyone by design (sign-in, sign-out).
- `Signed(reason)`: authenticated by a signature in the request, not by a session or token.
Several `Write` scenarios may share a route (e.g. one payload any member may send, and one
nobody may)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

STATUS, SOFT = "status", "soft"

MEMBERS = frozenset({"requester", "implementer", "approver", "cab_member", "release_manager", "rm_cab", "auditor",
                     "executive", "access_admin", "other_member"})
PIPELINES = frozenset({"pipeline", "pipeline_readonly", "pipeline_other"})
# The change's own people (requester rita, implementer ivan).
CHANGE_OWNERS = frozenset({"requester", "implementer"})
RM_LIFECYCLE = {
    "release_manager": "a release manager's manual moves and schedule edits are decided in the service (issue #12); "
                       "tests/changes judges them",
    "rm_cab": "a release manager's manual moves and schedule edits are decided in the service (issue #12); "
              "tests/changes judges them",
}
# Who may open and update incidents on payments-api (incidents/permissions.py).
INCIDENT_WRITERS = frozenset({"requester", "implementer", "approver", "release_manager", "rm_cab", "other_member"})
RELEASE_PLANNERS = frozenset({"release_manager", "rm_cab"})
DELIVERY_WRITERS = frozenset({"release_manager", "rm_cab", "pipeline", "pipeline_other"})
# The identity provider's SCIM service account (token scope `scim`); not in API_PERSONAS, it is
# every SCIM write's control.
SCIM = frozenset({"scim"})


@dataclass(frozen=True)
class Write:
    allowed: frozenset[str]
    method: str = "POST"
    scenario: str = "default"
    kwargs: Callable[[Any], dict] = lambda w: {}
    data: Callable[[Any], dict] = lambda w: {}
    # Rows (model instances) whose stored values must not move, and models whose row count must not.
    watch: Callable[[Any], list] = lambda w: []
    refusal: str = STATUS
    unjudged: dict[str, str] = field(default_factory=dict)
    # Who shows the request is well formed when no persona of the matrix may send it
    # (default: the first allowed persona).
    control: str | None = None


@dataclass(frozen=True)
class ReadOnly:
    reason: str = "renders a page; a POST is answered like a GET"


@dataclass(frozen=True)
class Public:
    reason: str


@dataclass(frozen=True)
class Signed:
    reason: str


@dataclass(frozen=True)
class AdminSite:
    reason: str = "Django admin: staff only, refused to every persona of the matrix"


def _models(*names: str) -> list:
    from django.apps import apps

    return [apps.get_model(n) for n in names]


def _later(w, days=3, hours=0):
    return (w.now + timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M")


def _scim_executive(w):
    return {"uuid": str(w.people["executive"].pk)}


def _scim_identity(w):
    return {"uuid": str(w.other_team.pk)}


def _change_form(w, change, **over):
    data = {"title": "Retitled by someone", "change_type": change.change_type.slug, "service": change.service.slug,
            "environment": change.environment.slug, "implementer": "ivan", "description": "d",
            "planned_start": change.planned_start.strftime("%Y-%m-%dT%H:%M"),
            "planned_end": change.planned_end.strftime("%Y-%m-%dT%H:%M"), "rollout_strategy": "rolling",
            "rollback_plan": "Redeploy previous", "rollback_error_rate_pct": "5"}
    data.update(over)
    return data


def _config_draft(w):
    """A draft change of the seeded Configuration type to payments-api in staging, by rita with
    ivan implementing. Made in the test that needs it (written directly: the matrix counts audit
    events around the request), found again within the test."""
    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest

    existing = ChangeRequest.objects.filter(title="Tune the pool (configuration)").first()
    if existing is not None:
        return existing
    start = w.now + timedelta(days=3)
    change = ChangeRequest.objects.create(
        title="Tune the pool (configuration)", change_type=ChangeType.objects.get(slug="configuration"),
        service=w.service, environment=w.envs["staging"], requester=w.people["requester"],
        implementer=w.people["implementer"], planned_start=start, planned_end=start + timedelta(hours=1))
    change.number = ChangeRequest.format_number(change.pk)
    change.save(update_fields=["number"])
    return change


def _standard_in_review(w):
    """The change in review, as a standard (low-risk, no CAB) queue item bulk approval accepts."""
    from apps.changes import workflow
    from apps.changes.models import ChangeRequest

    change = w.in_review
    if change.risk_level != "low" or change.cab_required:
        change.risk_level, change.cab_required = "low", False
        ChangeRequest.objects.filter(pk=change.pk).update(risk_level="low", cab_required=False,
                                                          content_hash=workflow.content_hash(change))
        change.refresh_from_db()
    return change


def _questioned(w):
    """The change in review with an approver's question open (written directly, before the request)."""
    from apps.changes.models import InformationRequest

    if not InformationRequest.objects.filter(change=w.in_review).exists():
        InformationRequest.objects.create(change=w.in_review, asked_by=w.people["approver"], question="Which pool?")
    return w.in_review


def _drift_finding(w):
    """An open drift finding on payments-api in staging whose difference a later observation no
    longer shows (so `reverted` succeeds for whoever may resolve it). Made in the test that needs it
    (each test of the module rolls its own rows back), found again by its key within the test."""
    from apps.environments.models import ConfigObservation, DriftFinding

    existing = DriftFinding.objects.filter(service=w.service, environment=w.envs["staging"], key="POOL_SIZE").first()
    if existing is not None:
        return existing
    observation = ConfigObservation.objects.create(service=w.service, environment=w.envs["staging"], source="agent",
                                                   observed_at=w.now, settings={})
    return DriftFinding.objects.create(
        service=w.service, environment=w.envs["staging"], key="POOL_SIZE", kind="changed", expected="20",
        observed="50", must_match=True, first_seen=w.now - timedelta(hours=1), last_seen=w.now - timedelta(hours=1),
        cleared_by=observation)

_CHAT_URL = "https://hooks.slack.com/services/T0GOV/B0GOV/governance-matrix-secret"


def _chat_channel(w):
    """A Slack channel of payments (nobody among the personas leads payments: only a superuser may
    set it). Written directly in the test that needs it, found again by its name."""
    from apps.notifications.models import ChatChannel

    existing = ChatChannel.objects.filter(team=w.team, name="payments-releases").first()
    if existing is not None:
        return existing
    return ChatChannel.objects.create(team=w.team, kind="slack", name="payments-releases", webhook_url=_CHAT_URL,
                                      webhook_hint="hooks.slack.com/…cret", events=["rollback"])


def _chat_form(w, name="payments-alerts", prefix=""):
    return {f"{prefix}kind": "teams", f"{prefix}name": name,
            f"{prefix}webhook_url": "https://hooks.slack.com/services/T0GOV/B0GOV/another-secret",
            f"{prefix}events": ["incident_opened"], f"{prefix}enabled": "on"}
_HEALTH_POLICY = {"validation_minutes": 30,
                  "checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 1, "for_minutes": 3}],
                  "canary": {"metrics": [], "pass_score": 95, "marginal_score": 75},
                  "smoke_required_within_minutes": None, "auto_rollback": False}


ROUTES: dict[str, Any] = {
    # --- root -------------------------------------------------------------------------------
    "home": ReadOnly(),
    "healthz": ReadOnly(),
    "metrics": ReadOnly("the Prometheus scrape; admitted by its own token or network, tested in test_metrics"),
    "api-schema": ReadOnly("the OpenAPI schema"),
    "api-docs": ReadOnly("the Swagger page"),

    # --- accounts ---------------------------------------------------------------------------
    "accounts:login": Public("signing in is how anyone becomes a persona"),
    "accounts:logout": Public("signing out changes only the caller's own session"),
    "accounts:profile": [Write(
        allowed=MEMBERS | {"outsider"}, data=lambda w: {"name": "laptop", "expires_in_days": "7"},
        watch=lambda w: _models("accounts.ApiToken"))],
    # Anyone signed in chooses the timezone they read times in (their own account only).
    "accounts:time_zone": [Write(
        allowed=MEMBERS | {"outsider"}, data=lambda w: {"time_zone": "Europe/Berlin"},
        watch=lambda w: _models("accounts.User"))],
    "accounts:token_revoke": [Write(
        allowed=frozenset({"requester"}), kwargs=lambda w: {"pk": w.requester_token.pk},
        watch=lambda w: [w.requester_token])],
    # Single sign-on (apps/sso): 404 while OIDC_ISSUER is unset; tested in tests/sso.
    "sso:start": Public("starts signing in with the OpenID Connect provider"),
    "sso:callback": Public("the provider's answer; signs in only the subject of a verified ID token"),
    # Access admins read the group mapping; it changes only by the policy import (a command).
    "sso:group_mapping": ReadOnly("shows the single sign-on group mapping; GET only"),
    "api-tokens": [Write(
        allowed=(MEMBERS | PIPELINES), data=lambda w: {"name": "ci", "expires_in_days": 7},
        watch=lambda w: _models("accounts.ApiToken"))],

    # --- catalog ----------------------------------------------------------------------------
    "catalog:services": ReadOnly(),
    "catalog:service": ReadOnly(),
    "catalog:environments": ReadOnly(),
    "catalog:service_edit": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.service.slug},
        data=lambda w: {"name": "Renamed", "description": "x", "tier": "1", "compliance_scopes": ["sox"]},
        watch=lambda w: [w.service])],
    "api-services": ReadOnly("list"),
    "api-service": [Write(
        method="PATCH", allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.service.slug},
        data=lambda w: {"name": "Renamed"}, watch=lambda w: [w.service])],
    "api-environments": ReadOnly("list"),

    # --- notifications: a team's chat channels (its leads and superusers) --------------------
    "notifications:teams": ReadOnly("lists the teams the caller leads"),
    "notifications:team_settings": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.team.slug},
        data=lambda w: _chat_form(w, prefix="new-"), watch=lambda w: _models("notifications.ChatChannel"))],
    "notifications:channel_edit": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.team.slug, "pk": _chat_channel(w).pk},
        data=lambda w: _chat_form(w, name="payments-renamed"), watch=lambda w: [_chat_channel(w)])],
    "notifications:channel_delete": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.team.slug, "pk": _chat_channel(w).pk},
        watch=lambda w: [_chat_channel(w)])],
    "api-chat-channels": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"slug": w.team.slug},
        data=lambda w: {"kind": "slack", "name": "payments-alerts", "webhook_url": _CHAT_URL,
                        "events": ["rollback"]},
        watch=lambda w: _models("notifications.ChatChannel"))],
    "api-chat-channel": [
        Write(method="PATCH", allowed=frozenset(), control="superuser",
              kwargs=lambda w: {"slug": w.team.slug, "pk": _chat_channel(w).pk},
              data=lambda w: {"events": ["rollback", "incident_opened"]}, watch=lambda w: [_chat_channel(w)]),
        Write(scenario="remove", method="DELETE", allowed=frozenset(), control="superuser",
              kwargs=lambda w: {"slug": w.team.slug, "pk": _chat_channel(w).pk}, watch=lambda w: [_chat_channel(w)]),
    ],
    "api-chat-deliveries": ReadOnly("list"),

    # --- change types -----------------------------------------------------------------------
    "change_types:list": ReadOnly(),
    "change_types:templates": [Write(
        allowed=MEMBERS, data=lambda w: {"slug": "flush-cache", "name": "Flush cache", "description": "redis FLUSHALL",
                                         "rollback_plan": "none"},
        watch=lambda w: _models("change_types.StandardChangeTemplate"), refusal=SOFT)],
    "change_types:template_approve": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"pk": w.template_proposed.pk},
        watch=lambda w: [w.template_proposed], refusal=SOFT)],
    "change_types:template_retire": [Write(
        allowed=frozenset({"release_manager", "rm_cab", "cab_member"}), kwargs=lambda w: {"pk": w.template_approved.pk},
        data=lambda w: {"reason": "replaced by automation"}, watch=lambda w: [w.template_approved], refusal=SOFT)],

    # --- changes: pages ---------------------------------------------------------------------
    "changes:list": ReadOnly(),
    "changes:queue": ReadOnly(),
    "changes:mine": ReadOnly(),
    "changes:calendar": ReadOnly(),
    "changes:calendar_feed": ReadOnly("the iCalendar feed; its secret is the credential"),
    "changes:detail": ReadOnly(),
    "changes:create": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "cab_member", "release_manager", "rm_cab",
                           "other_member"}),
        data=lambda w: _change_form(w, w.draft, title="A new change"), watch=lambda w: _models("changes.ChangeRequest"))],
    "changes:edit": [Write(
        allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: _change_form(w, w.draft), watch=lambda w: [w.draft])],
    "changes:submit": [Write(
        allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
        watch=lambda w: [w.draft])],
    "changes:move": [
        Write(allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
              data=lambda w: {"to_state": "cancelled"}, watch=lambda w: [w.draft], refusal=SOFT),
        # No approvals: nobody may schedule it (the approval bypass of issue #12).
        Write(scenario="draft-to-scheduled", allowed=frozenset(), kwargs=lambda w: {"ref": w.draft.number},
              data=lambda w: {"to_state": "scheduled"}, watch=lambda w: [w.draft], refusal=SOFT),
    ],
    "changes:decide": [
        Write(allowed=frozenset({"approver", "cab_member"}), kwargs=lambda w: {"ref": w.in_review.number},
              data=lambda w: {"decision": "approve", "comment": "ok"},
              watch=lambda w: [w.in_review, *_models("changes.Approval")]),
        # The retrospective CAB approval of an emergency change: its override's authoriser may not give it.
        Write(scenario="override-authoriser", allowed=frozenset({"cab_member"}),
              kwargs=lambda w: {"ref": w.emergency.number}, data=lambda w: {"decision": "approve", "comment": "ok"},
              watch=lambda w: [w.emergency, *_models("changes.Approval")]),
    ],
    # Bulk approval of standard queue items: each one through approval_record (the decide route's guards).
    "changes:queue_bulk_approve": [Write(
        allowed=frozenset({"approver", "cab_member"}), data=lambda w: {"change": [_standard_in_review(w).number]},
        watch=lambda w: [_standard_in_review(w), *_models("changes.Approval")], refusal=SOFT)],
    # Request more information: whoever may decide asks; the change's own people answer.
    "changes:ask": [Write(
        allowed=frozenset({"approver", "cab_member"}), kwargs=lambda w: {"ref": w.in_review.number},
        data=lambda w: {"question": "Which pool size?"}, watch=lambda w: _models("changes.InformationRequest"),
        refusal=SOFT)],
    "changes:answer": [Write(
        allowed=CHANGE_OWNERS, kwargs=lambda w: {"ref": _questioned(w).number}, data=lambda w: {"answer": "Twenty."},
        watch=lambda w: [_questioned(w).information_requests.order_by("pk").first()], refusal=SOFT)],
    "changes:override": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"ref": w.emergency_pending.number},
        data=lambda w: {"reason": "Payments down", "hours": "4"},
        watch=lambda w: [w.emergency_pending, *_models("changes.EmergencyOverride")], refusal=SOFT)],
    "changes:post_mortem": [Write(
        allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.emergency.number},
        data=lambda w: {"post_mortem": "Root cause: a bad config"}, watch=lambda w: [w.emergency])],
    "changes:calendar_feed_manage": [Write(
        allowed=MEMBERS, data=lambda w: {"action": "rotate"}, watch=lambda w: _models("changes.CalendarFeed"))],
    "changes:schedule": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}),
        data=lambda w: {"kind": "freeze", "f-name": "Year end", "f-reason": "Closing the books",
                        "f-starts_at": _later(w, 10), "f-ends_at": _later(w, 12)},
        watch=lambda w: _models("changes.Freeze", "changes.MaintenanceWindow"))],
    "changes:window_edit": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.window.pk},
        data=lambda w: {"action": "agree", "a-group_name": "Card operations"},
        watch=lambda w: [w.window, *_models("changes.WindowAgreement")])],
    "changes:freeze_edit": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.freeze.pk},
        data=lambda w: {"action": "edit", "f-name": "Quarter close", "f-reason": "Finance, moved",
                        "f-starts_at": _later(w, 301), "f-ends_at": _later(w, 303)},
        watch=lambda w: [w.freeze])],
    "changes:delegations": [
        Write(allowed=MEMBERS, data=lambda w: {"delegate": "adam", "ends_at": _later(w, 5)},
              unjudged={"approver": "adam cannot delegate to himself (a form error)"},
              watch=lambda w: _models("changes.Delegation"), refusal=SOFT),
        # Delegation only to people who hold the privilege the stage needs (issue #12).
        Write(scenario="to-an-auditor", allowed=frozenset(), data=lambda w: {"delegate": "audra", "ends_at": _later(w, 5)},
              watch=lambda w: _models("changes.Delegation"), refusal=SOFT),
        Write(scenario="to-an-executive", allowed=frozenset(), data=lambda w: {"delegate": "exec", "ends_at": _later(w, 5)},
              watch=lambda w: _models("changes.Delegation"), refusal=SOFT),
    ],
    "changes:delegation_revoke": [Write(
        allowed=frozenset({"approver"}), kwargs=lambda w: {"pk": w.delegation.pk}, watch=lambda w: [w.delegation])],
    "changes:cab_meetings": [Write(
        allowed=frozenset({"release_manager", "rm_cab", "cab_member"}),
        data=lambda w: {"title": "CAB", "starts_at": _later(w, 2), "duration_minutes": "60", "quorum": "1",
                        "members": ["cate"]},
        watch=lambda w: _models("changes.CabMeeting"))],
    "changes:cab_meeting": [Write(
        allowed=frozenset({"release_manager", "rm_cab", "cab_member"}), kwargs=lambda w: {"pk": w.cab_meeting.pk},
        data=lambda w: {"action": "minutes", "minutes": "Approved nothing"}, watch=lambda w: [w.cab_meeting])],

    # --- changes: API -----------------------------------------------------------------------
    "api-changes": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "cab_member", "release_manager", "rm_cab",
                           "other_member", "pipeline", "pipeline_other"}),
        data=lambda w: {"title": "New", "change_type": "simple", "service": "payments-api", "environment": "staging"},
        watch=lambda w: _models("changes.ChangeRequest"))],
    "api-change": [Write(
        method="PATCH", allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"title": "Retitled by someone"}, watch=lambda w: [w.draft])],
    "api-change-submit": [Write(
        allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
        watch=lambda w: [w.draft])],
    "api-change-transition": [
        Write(allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.draft.number},
              data=lambda w: {"to_state": "cancelled"}, watch=lambda w: [w.draft]),
        Write(scenario="draft-to-scheduled", allowed=frozenset(), kwargs=lambda w: {"ref": w.draft.number},
              data=lambda w: {"to_state": "scheduled"}, watch=lambda w: [w.draft], refusal=SOFT),
    ],
    "api-change-approvals": [
        Write(allowed=frozenset({"approver", "cab_member"}), kwargs=lambda w: {"ref": w.in_review.number},
              data=lambda w: {"decision": "approve"}, watch=lambda w: [w.in_review, *_models("changes.Approval")]),
        Write(scenario="override-authoriser", allowed=frozenset({"cab_member"}),
              kwargs=lambda w: {"ref": w.emergency.number}, data=lambda w: {"decision": "approve"},
              watch=lambda w: [w.emergency, *_models("changes.Approval")]),
    ],
    "api-change-emergency-override": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"ref": w.emergency_pending.number},
        data=lambda w: {"reason": "Payments down", "hours": 4},
        watch=lambda w: [w.emergency_pending, *_models("changes.EmergencyOverride")])],
    "api-change-post-mortem": [Write(
        allowed=CHANGE_OWNERS, unjudged=RM_LIFECYCLE, kwargs=lambda w: {"ref": w.emergency.number},
        data=lambda w: {"post_mortem": "Root cause: a bad config"}, watch=lambda w: [w.emergency])],

    # --- delivery ---------------------------------------------------------------------------
    "delivery:hook-github": Signed("X-Hub-Signature-256 against the configured secret"),
    "delivery:hook-gitlab": Signed("X-Gitlab-Token against the configured secret"),
    "delivery:deployments": ReadOnly(),
    "delivery:deployment": ReadOnly(),
    "delivery:artifact": ReadOnly(),
    "delivery:gate-decisions": ReadOnly(),
    "delivery:reconciliation": ReadOnly(),
    "delivery:shared-resources": ReadOnly(),
    "delivery:service-environments": ReadOnly(),
    "api-artifacts": [Write(
        allowed=DELIVERY_WRITERS,
        data=lambda w: {"service": "payments-api", "version": "2.0.0", "digest": "sha256:" + "b" * 64,
                        "git_sha": "b" * 40, "format": "oci_image"},
        watch=lambda w: _models("delivery.Artifact"))],
    "api-artifact": ReadOnly("read"),
    "api-artifact-evidence": [Write(
        allowed=DELIVERY_WRITERS, kwargs=lambda w: {"digest": w.artifact.digest},
        data=lambda w: {"kind": "log", "document": "all green"}, watch=lambda w: _models("delivery.Evidence"))],
    "api-signing-keys": [Write(
        allowed=frozenset({"pipeline"}),
        data=lambda w: {"team": "payments", "name": "ci", "public_key_pem": w.public_key_pem},
        watch=lambda w: _models("delivery.SigningKey"))],
    "api-gate-check": [Write(
        allowed=DELIVERY_WRITERS,
        data=lambda w: {"service": "payments-api", "environment": "prod", "artifact": w.artifact.digest,
                        "change": w.draft.number},
        watch=lambda w: _models("delivery.GateDecision", "delivery.DeploymentLock"))],
    "api-gate-decisions": ReadOnly("list"),
    # --- releases: trains and releases (releases/api.py, views.py) ---------------------------------
    "releases:list": [Write(
        allowed=RELEASE_PLANNERS, watch=lambda w: _models("releases.Release"),
        data=lambda w: {"name": "New", "train": "core", "services": ["ledger"], "scope_lock_at": _later(w, 5),
                        "planned_start": _later(w, 6)})],
    "releases:detail": ReadOnly(),
    "releases:progress": ReadOnly(),
    "releases:trains": ReadOnly(),
    "releases:train": ReadOnly(),
    "releases:add_change": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.release.pk}, data=lambda w: {"change": w.draft.number},
        watch=lambda w: _models("releases.ReleaseChange"))],
    "releases:move": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.release.pk}, data=lambda w: {"to_state": "cancelled"},
        watch=lambda w: [w.release])],
    "releases:exception_request": [Write(
        allowed=MEMBERS, kwargs=lambda w: {"pk": w.locked_release.pk}, data=lambda w: {"change": w.draft.number,
                                                                                        "reason": "late"},
        watch=lambda w: _models("releases.ScopeException"))],
    # Only holders of the train's sign-off role (none among the personas) sign; never the asker.
    "releases:exception_sign": [Write(
        allowed=frozenset(), control="superuser",
        kwargs=lambda w: {"pk": w.locked_release.pk, "exception_id": w.scope_exception.pk},
        data=lambda w: {"role": "product"}, watch=lambda w: _models("releases.ScopeSignoff"))],
    # Who runs CAB meetings, in person, takes a release to one.
    "releases:cab_add": [Write(
        allowed=frozenset({"cab_member", "release_manager", "rm_cab"}),
        data=lambda w: {"release": w.release.pk, "meeting": w.cab_meeting.pk, "back": "release"},
        watch=lambda w: _models("releases.ReleaseCabReview", "changes.CabAgendaItem"))],
    "api-release-cab": [Write(
        allowed=frozenset({"cab_member", "release_manager", "rm_cab"}), kwargs=lambda w: {"pk": w.release.pk},
        data=lambda w: {"meeting": w.cab_meeting.pk},
        watch=lambda w: _models("releases.ReleaseCabReview", "changes.CabAgendaItem"))],
    # The change's requester and implementer, or a release manager, choose its deployment strategy.
    "releases:strategy": [Write(
        allowed=CHANGE_OWNERS | RELEASE_PLANNERS, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"strategy": "recreate", "reason": "maintenance window agreed"},
        watch=lambda w: _models("releases.StrategyDecision"))],
    "api-change-strategy": [Write(
        allowed=CHANGE_OWNERS | RELEASE_PLANNERS, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"strategy": "recreate", "reason": "maintenance window agreed"},
        watch=lambda w: _models("releases.StrategyDecision"))],
    "releases:justify": [Write(
        allowed=CHANGE_OWNERS | RELEASE_PLANNERS, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"justification": "regulator deadline"},
        watch=lambda w: _models("releases.OffCadenceJustification"))],
    "api-release-trains": [Write(
        allowed=RELEASE_PLANNERS, watch=lambda w: _models("releases.ReleaseTrain"),
        data=lambda w: {"slug": "new", "name": "New", "cadence": "weekly", "reason": "stability",
                        "signoff_roles": ["product"]})],
    "api-releases": [Write(
        allowed=RELEASE_PLANNERS, watch=lambda w: _models("releases.Release"),
        data=lambda w: {"name": "New", "train": "core", "services": ["ledger"],
                        "scope_lock_at": (w.now + timedelta(days=5)).isoformat(),
                        "planned_start": (w.now + timedelta(days=6)).isoformat()})],
    "api-release": ReadOnly("detail"),
    "api-release-changes": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.release.pk}, data=lambda w: {"change": w.draft.pk},
        watch=lambda w: _models("releases.ReleaseChange"))],
    "api-release-transition": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"pk": w.release.pk}, data=lambda w: {"to_state": "cancelled"},
        watch=lambda w: [w.release])],
    # Any person whose token may write changes asks; pipelines may not.
    "api-release-exceptions": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "cab_member", "release_manager", "rm_cab",
                           "other_member"}),
        kwargs=lambda w: {"pk": w.locked_release.pk}, data=lambda w: {"change": w.draft.pk, "reason": "late"},
        watch=lambda w: _models("releases.ScopeException"))],
    "api-release-exception-signoffs": [Write(
        allowed=frozenset(), control="superuser",
        kwargs=lambda w: {"pk": w.locked_release.pk, "exception_id": w.scope_exception.pk},
        data=lambda w: {"role": "product"}, watch=lambda w: _models("releases.ScopeSignoff"))],
    # The service's team (with catalog:write) and release managers.
    "api-service-dependencies": [Write(
        method="PUT", allowed=CHANGE_OWNERS | RELEASE_PLANNERS, kwargs=lambda w: {"service": w.service.slug},
        data=lambda w: {"depends_on": ["ledger"]}, watch=lambda w: _models("releases.ServiceDependency"))],
    "api-change-off-cadence-justification": [Write(
        method="PUT", allowed=CHANGE_OWNERS | RELEASE_PLANNERS, kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"justification": "regulator deadline"},
        watch=lambda w: _models("releases.OffCadenceJustification"))],
    "api-compliance-scopes": ReadOnly("list"),
    "api-compliance-scope": [Write(
        method="PUT", allowed=RELEASE_PLANNERS, kwargs=lambda w: {"key": "pci"},
        data=lambda w: {"name": "PCI DSS", "retention_days": 400, "waiver_role": "security_officer",
                        "checkpoints": [{"name": "Scanned", "required_evidence_kinds": ["sarif"]}]},
        watch=lambda w: _models("releases.ComplianceScope", "releases.ComplianceCheckpoint"))],
    # Only the scope's waiver role (security_officer: none among the personas) waives.
    "api-change-checkpoint-waivers": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"ref": w.draft.number},
        data=lambda w: {"checkpoint": w.checkpoint.pk, "reason": "lab report"},
        watch=lambda w: _models("releases.CheckpointWaiver"))],
    "releases:waive": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"ref": w.draft.number,
                                                                    "checkpoint_id": w.checkpoint.pk},
        data=lambda w: {"reason": "lab report"}, watch=lambda w: _models("releases.CheckpointWaiver"))],
    # --- releases: pipeline templates (templates_api.py) -------------------------------------------
    "releases:templates": [Write(
        allowed=RELEASE_PLANNERS, data=lambda w: {"slug": "new-tpl", "name": "New"},
        watch=lambda w: _models("releases.PipelineTemplate"))],
    "releases:template_version_propose": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"slug": "standard"},
        data=lambda w: {"version": "3.0", "required_stages": "build"},
        watch=lambda w: _models("releases.PipelineTemplateVersion"))],
    "releases:template_version_approve": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"slug": "standard", "version": "2.0"},
        watch=lambda w: [w.template_v2])],
    "releases:template_version_deprecate": [Write(
        allowed=RELEASE_PLANNERS, kwargs=lambda w: {"slug": "standard", "version": "1.0"},
        watch=lambda w: [w.template_v1])],
    # The service's team (rita, ivan and adam are in payments) or a release manager.
    "releases:template_adopt": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "release_manager", "rm_cab"}),
        kwargs=lambda w: {"slug": "standard", "version": "1.0"}, data=lambda w: {"service": w.service.slug},
        watch=lambda w: _models("releases.TemplateAdoption"))],
    "api-artifact-retention": ReadOnly("the keep/purge list"),
    # --- releases: retrospectives and user issues (retros_api.py, retros_views.py) ---------------
    "releases:retros": ReadOnly(),
    "releases:issue_new": [Write(
        allowed=MEMBERS, kwargs=lambda w: {"pk": w.release.pk},
        data=lambda w: {"title": "Checkout slow", "channel": "support", "impact": "low"},
        watch=lambda w: _models("releases.UserIssue"))],
    "api-retrospectives": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}),
        data=lambda w: {"kind": "rollback", "deployment": w.rollback_deployment.pk},
        watch=lambda w: _models("releases.Retrospective"))],
    "api-retro-actions": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"pk": w.retro.pk},
        data=lambda w: {"title": "Add a canary", "type": "new_check", "owner": "remy", "due_date": "2026-12-01",
                        "link_kind": "gate_rule", "link_ref": "releases.templates"},
        watch=lambda w: _models("releases.RetroAction"))],
    "api-retro-action-close": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"pk": w.retro_action.pk},
        watch=lambda w: [w.retro_action])],
    "api-release-issues": [Write(
        allowed=frozenset({"requester", "implementer", "release_manager", "rm_cab", "other_member", "pipeline",
                           "pipeline_other"}),
        kwargs=lambda w: {"pk": w.release.pk}, data=lambda w: {"title": "Checkout slow", "channel": "support"},
        watch=lambda w: _models("releases.UserIssue"))],
    "api-pipeline-templates": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), data=lambda w: {"slug": "new-tpl", "name": "New"},
        watch=lambda w: _models("releases.PipelineTemplate"))],
    "api-pipeline-template-versions": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"slug": "standard"},
        data=lambda w: {"version": "3.0", "required_stages": ["build"]},
        watch=lambda w: _models("releases.PipelineTemplateVersion"))],
    "api-pipeline-template-version-approve": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"slug": "standard", "version": "2.0"},
        watch=lambda w: [w.template_v2])],
    "api-pipeline-template-version-deprecate": [Write(
        allowed=frozenset({"release_manager", "rm_cab"}), kwargs=lambda w: {"slug": "standard", "version": "1.0"},
        watch=lambda w: [w.template_v1])],
    "api-service-pipeline-template": [Write(
        method="PUT", allowed=frozenset({"release_manager", "rm_cab", "pipeline"}),
        kwargs=lambda w: {"service": w.service.slug}, data=lambda w: {"template": "standard", "version": "1.0"},
        watch=lambda w: _models("releases.TemplateAdoption"))],
    "api-deployments": [Write(
        allowed=frozenset({"pipeline"}),
        data=lambda w: {"service": "payments-api", "environment": "prod", "artifact": w.artifact.digest,
                        "status": "succeeded"},
        watch=lambda w: _models("delivery.Deployment"))],
    "api-deployment": [Write(
        method="PATCH", allowed=frozenset({"pipeline"}), kwargs=lambda w: {"pk": w.prod_deployment.pk},
        data=lambda w: {"status": "succeeded"}, watch=lambda w: [w.prod_deployment])],

    # --- environments -----------------------------------------------------------------------
    "environments:environment": ReadOnly(),
    "environments:provision": ReadOnly(),
    "api-environment-provisions": [Write(
        allowed=DELIVERY_WRITERS, kwargs=lambda w: {"env": "staging"},
        data=lambda w: {"tool": "terraform", "status": "applied", "pipeline_run_id": "tf-1"},
        watch=lambda w: _models("environments.Provision", "environments.ProvisionResource"))],
    "api-environment-provision": ReadOnly("read"),
    # Production migrations of payments-api: its deployer only (the payments pipeline), as deployments.
    "api-migrations-applied": [Write(
        allowed=frozenset({"pipeline"}),
        data=lambda w: {"service": "payments-api", "environment": "prod", "tool": "flyway",
                        "migrations": [{"version": "1", "checksum": "abc", "status": "success"}]},
        watch=lambda w: _models("environments.AppliedMigration", "environments.MigrationMismatch"))],
    # --- validation (valcore) ---------------------------------------------------------------
    # A production health policy is governed like the gate's environment policies: release
    # managers only (never a pipeline); a staging one: the owning team and release managers.
    "api-health-policy": [
        Write(method="PUT", scenario="production", allowed=frozenset({"release_manager", "rm_cab"}),
              kwargs=lambda w: {"service": "payments-api", "env": "prod"}, data=lambda w: _HEALTH_POLICY,
              watch=lambda w: _models("validation.HealthPolicy")),
        Write(method="PUT", scenario="staging",
              allowed=frozenset({"requester", "implementer", "release_manager", "rm_cab", "pipeline"}),
              kwargs=lambda w: {"service": "payments-api", "env": "staging"}, data=lambda w: _HEALTH_POLICY,
              watch=lambda w: _models("validation.HealthPolicy")),
    ],
    "api-rollback-webhook": [Write(
        method="PUT", allowed=frozenset({"pipeline"}), kwargs=lambda w: {"service": "payments-api"},
        data=lambda w: {"url": "https://ci.example.test/rollback", "secret": "0123456789abcdef-secret"},
        watch=lambda w: _models("validation.RollbackWebhook"))],
    # Samples and checks come from the owning team's pipeline (delivery:write).
    "api-deployment-metrics": [Write(
        allowed=frozenset({"pipeline"}), kwargs=lambda w: {"pk": w.prod_deployment.pk},
        data=lambda w: {"metric": "error_rate_pct", "cohort": "current",
                        "samples": [[w.prod_deployment.started_at.timestamp() + 10, 0.5]]},
        watch=lambda w: _models("validation.MetricSampleBatch", "validation.Verdict"))],
    "api-deployment-checks": [Write(
        allowed=frozenset({"pipeline"}), kwargs=lambda w: {"pk": w.prod_deployment.pk},
        data=lambda w: {"kind": "smoke", "results": [{"name": "login", "status": "passed", "duration_ms": 12}]},
        watch=lambda w: _models("validation.CheckRun", "validation.CheckResult"))],
    "api-deployment-verdict": ReadOnly("judges and answers; the stored verdict moves only with posted samples"),

    # --- validation: canary analysis, log review, annotations (canary) ----------------------------
    # Only the owning team's pipeline reports on its deployments (validation/permissions.py); the
    # sign-off is a person of the owning team or a release manager (validation/logreview.py).
    "api-deployment-canary-analysis": [Write(
        allowed=frozenset({"pipeline"}), kwargs=lambda w: {"pk": w.prod_deployment.pk},
        watch=lambda w: _models("validation.CanaryAnalysis"))],
    "api-deployment-log-review": [Write(
        allowed=frozenset({"pipeline"}), kwargs=lambda w: {"pk": w.prod_deployment.pk},
        data=lambda w: [{"fingerprint": "timeout-ledger", "message": "Ledger timed out", "count": 2,
                         "first_seen": w.prod_deployment.started_at.isoformat()}],
        watch=lambda w: [w.log_review, *_models("validation.LogFingerprint")])],
    "api-annotations": ReadOnly("Grafana's annotation list"),
    "validation:log_review_sign_off": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "release_manager", "rm_cab"}),
        kwargs=lambda w: {"pk": w.prod_deployment.pk}, data=lambda w: {"note": "Nothing alarming"},
        watch=lambda w: [w.log_review], refusal=SOFT)],

    # --- incidents --------------------------------------------------------------------------
    "incidents:list": ReadOnly(),
    "incidents:reviews": ReadOnly(),
    "incidents:action_items": ReadOnly(),
    "incidents:patterns": ReadOnly(),
    "incidents:detail": ReadOnly(),
    "incidents:attachment": ReadOnly(),
    "incidents:runbooks": ReadOnly(),
    "incidents:create": [Write(
        allowed=INCIDENT_WRITERS,
        data=lambda w: {"service": "payments-api", "title": "Outage", "severity": "sev2",
                        "started_at": (w.now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")},
        watch=lambda w: _models("incidents.Incident"), refusal=SOFT)],
    "incidents:post_update": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"message": "Mitigated", "status": ""},
        watch=lambda w: [w.incident, *_models("incidents.IncidentUpdate")])],
    "incidents:edit": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"title": "Renamed", "severity": "sev1"}, watch=lambda w: [w.incident])],
    "incidents:link": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"target": "none", "reason": "unrelated"}, watch=lambda w: [w.incident])],
    "incidents:attach": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"kind": "note", "text": "heap looked fine"},
        watch=lambda w: _models("incidents.IncidentAttachment"))],
    "incidents:rollback": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"deployment": str(w.rollback_deployment.pk), "note": "rolled back"},
        watch=lambda w: [w.incident, w.rollback_deployment, *_models("incidents.IncidentRollback")])],
    "incidents:review_start": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.incident.pk},
        watch=lambda w: _models("incidents.Review"))],
    "incidents:review": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.reviewed_incident.pk},
        data=lambda w: {"summary": "We learned", "timeline": "t"}, watch=lambda w: [w.review])],
    "incidents:action_item_add": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"pk": w.reviewed_incident.pk},
        data=lambda w: {"title": "Alert", "type": "monitoring", "owner": "rita",
                        "due_date": (w.now + timedelta(days=9)).date().isoformat()},
        watch=lambda w: _models("incidents.ActionItem"))],
    "incidents:action_item_status": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"item_id": w.action_item.pk},
        data=lambda w: {"status": "in_progress"}, watch=lambda w: [w.action_item])],
    "incidents:subscription": [Write(
        allowed=MEMBERS, kwargs=lambda w: {"slug": w.service.slug}, data=lambda w: {"subscribe": "1"},
        watch=lambda w: _models("incidents.ServiceSubscription"))],
    "incidents:runbook": [Write(
        allowed=INCIDENT_WRITERS, kwargs=lambda w: {"slug": w.bare_service.slug},
        data=lambda w: {"owner": "rita", "summary": "How to restart"}, watch=lambda w: _models("incidents.Runbook"))],
    "incidents:runbook_step_add": [Write(
        allowed=INCIDENT_WRITERS - {"other_member"}, kwargs=lambda w: {"slug": w.service.slug},
        data=lambda w: {"area": "code", "instruction": "Redeploy", "verification": "200 OK"},
        watch=lambda w: _models("incidents.RunbookStep"))],
    "incidents:runbook_test_add": [Write(
        allowed=INCIDENT_WRITERS - {"other_member"}, kwargs=lambda w: {"slug": w.service.slug},
        data=lambda w: {"outcome": "passed", "environment": "staging", "notes": "fine"},
        watch=lambda w: _models("incidents.RunbookTest"))],
    "api-incidents": [Write(
        allowed=INCIDENT_WRITERS | {"pipeline", "pipeline_other"},
        data=lambda w: {"service": "payments-api", "title": "Outage", "severity": "sev2",
                        "started_at": (w.now - timedelta(minutes=30)).isoformat()},
        watch=lambda w: _models("incidents.Incident"))],
    "api-incident": [Write(
        method="PATCH", allowed=INCIDENT_WRITERS | {"pipeline", "pipeline_other"}, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"title": "Renamed"}, watch=lambda w: [w.incident])],
    "api-incident-updates": [Write(
        allowed=INCIDENT_WRITERS | {"pipeline", "pipeline_other"}, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"message": "Mitigated"}, watch=lambda w: [w.incident, *_models("incidents.IncidentUpdate")])],
    "api-incident-rollbacks": [Write(
        allowed=INCIDENT_WRITERS | {"pipeline", "pipeline_other"}, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"deployment": w.rollback_deployment.pk, "note": "rolled back"},
        watch=lambda w: [w.incident, w.rollback_deployment, *_models("incidents.IncidentRollback")])],
    "api-incident-attachments": [Write(
        allowed=INCIDENT_WRITERS | {"pipeline", "pipeline_other"}, kwargs=lambda w: {"pk": w.incident.pk},
        data=lambda w: {"kind": "note", "text": "heap looked fine"},
        watch=lambda w: _models("incidents.IncidentAttachment"))],
    "api-incident-classifications": ReadOnly("list"),

    # --- environments: configuration baselines, observations, drift (apps/environments/config_*) ----
    "api-config-baseline": [Write(
        method="PUT", allowed=CHANGE_OWNERS | {"pipeline"},
        kwargs=lambda w: {"service": "payments-api", "env": "staging"},
        data=lambda w: {"change": _config_draft(w).number, "settings": {
            "POOL_SIZE": {"value": "20", "secret": False, "must_match": True}}},
        watch=lambda w: _models("environments.ConfigBaseline"))],
    "api-config-observations": [Write(
        allowed=DELIVERY_WRITERS,
        data=lambda w: {"service": "payments-api", "environment": "staging", "source": "agent",
                        "observed_at": w.now.isoformat(), "settings": {"POOL_SIZE": "20"},
                        "runtimes": {"java": "17.0.9"}},
        watch=lambda w: _models("environments.ConfigObservation", "environments.DriftFinding"))],
    "api-config-drift": ReadOnly("list"),
    "api-config-drift-resolve": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "release_manager", "rm_cab"}),
        kwargs=lambda w: {"pk": _drift_finding(w).pk}, data=lambda w: {"resolution": "reverted"},
        watch=lambda w: [_drift_finding(w)])],

    # Configuration pages (apps/environments/config_views.py): resolve goes through drift_resolve, whose
    # refusals come back as a message on the finding's page (soft).
    "environments:config-baselines": ReadOnly(),
    "environments:config-baseline": ReadOnly(),
    "environments:config-drift": ReadOnly(),
    "environments:config-drift-detail": ReadOnly(),
    "environments:config-drift-resolve": [Write(
        allowed=frozenset({"requester", "implementer", "approver", "release_manager", "rm_cab"}),
        kwargs=lambda w: {"pk": _drift_finding(w).pk}, data=lambda w: {"resolution": "reverted"},
        watch=lambda w: [_drift_finding(w)], refusal=SOFT)],

    # --- access reviews ---------------------------------------------------------------------
    "access_reviews:reviews": ReadOnly(),
    "access_reviews:campaigns": ReadOnly(),
    "access_reviews:campaign": ReadOnly(),
    "access_reviews:report": ReadOnly("a download"),
    "access_reviews:grants": ReadOnly(),
    "access_reviews:item-decide": [
        Write(allowed=frozenset({"access_admin"}), kwargs=lambda w: {"pk": w.item.pk},
              data=lambda w: {"decision": "keep", "justification": "still approves"}, watch=lambda w: [w.item],
              refusal=SOFT),
        # Nobody certifies a grant they issued (gina issued this one).
        Write(scenario="grant-issuer", allowed=frozenset(), kwargs=lambda w: {"pk": w.own_item.pk},
              data=lambda w: {"decision": "keep", "justification": "still approves"}, watch=lambda w: [w.own_item],
              refusal=SOFT),
    ],
    "access_reviews:items-bulk": [Write(
        allowed=frozenset({"access_admin"}),
        data=lambda w: {"items": [str(w.item.pk)], "decision": "keep", "justification": "still needed"},
        watch=lambda w: [w.item], refusal=SOFT)],
    "access_reviews:campaign-open": [Write(
        allowed=frozenset({"access_admin"}),
        data=lambda w: {"name": "Extra review", "due_date": (w.now + timedelta(days=30)).date().isoformat(),
                        "scope": "all_production"},
        watch=lambda w: _models("access_reviews.ReviewCampaign"))],
    "access_reviews:campaign-close": [Write(
        allowed=frozenset({"access_admin"}), kwargs=lambda w: {"pk": w.campaign.pk}, watch=lambda w: [w.campaign],
        refusal=SOFT)],
    "access_reviews:grant-new": [Write(
        allowed=frozenset({"access_admin"}),
        data=lambda w: {"user": "ivan", "privilege": "deployer", "service": "payments-api", "environment": "prod",
                        "justification": "on call"},
        watch=lambda w: _models("access_reviews.AccessGrant"))],
    "access_reviews:grant-revoke": [Write(
        allowed=frozenset({"access_admin"}), kwargs=lambda w: {"pk": w.grant.pk}, data=lambda w: {"reason": "left"},
        watch=lambda w: [w.grant])],
    "api-access-grants": [Write(
        allowed=frozenset({"access_admin"}),
        data=lambda w: {"user": "ivan", "privilege": "deployer", "service": "payments-api", "environment": "prod",
                        "justification": "on call"},
        watch=lambda w: _models("access_reviews.AccessGrant"))],
    "api-access-grant-revoke": [Write(
        allowed=frozenset({"access_admin"}), kwargs=lambda w: {"pk": w.grant.pk}, data=lambda w: {"reason": "left"},
        watch=lambda w: [w.grant])],
    "api-access-campaigns": ReadOnly("list"),
    "api-access-campaign": ReadOnly("read"),
    "api-access-item-decide": [
        Write(allowed=frozenset({"access_admin"}), kwargs=lambda w: {"pk": w.item.pk},
              data=lambda w: {"decision": "keep", "justification": "still approves"}, watch=lambda w: [w.item]),
        Write(scenario="grant-issuer", allowed=frozenset(), kwargs=lambda w: {"pk": w.own_item.pk},
              data=lambda w: {"decision": "keep", "justification": "still approves"}, watch=lambda w: [w.own_item]),
    ],

    # --- audit ------------------------------------------------------------------------------
    "audit:log": ReadOnly(),
    "audit:log_csv": ReadOnly("a download"),
    "audit:workspace": ReadOnly(),
    "audit:pack_table": ReadOnly(),
    "audit:pack_form": ReadOnly(),
    "audit:pack_download": ReadOnly("a download (the download itself is audited)"),
    "audit:keys": ReadOnly(),
    "audit:archived_export": ReadOnly("a download (audited)"),
    "audit:archive_download": ReadOnly("a download (audited)"),
    "audit:chain_status": ReadOnly(),
    "audit:chain_verify": [Write(
        allowed=frozenset({"auditor"}), watch=lambda w: _models("audit.ChainVerification"))],
    "audit:pack_request": [Write(
        allowed=frozenset({"auditor"}),
        data=lambda w: {"scope": "change", "change": w.in_review.number},
        watch=lambda w: _models("audit.EvidencePack"))],
    "audit:retention": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {},
        data=lambda w: {"policy": str(w.retention_policy.pk), "years": "9", "counted_from": "creation"},
        watch=lambda w: [w.retention_policy])],
    "audit:holds": [Write(
        allowed=frozenset(), control="superuser", data=lambda w: {"title": "Hold", "reason": "counsel", "service": str(w.service.pk)},
        watch=lambda w: _models("audit.LegalHold"))],
    "audit:hold_release": [Write(
        allowed=frozenset(), control="superuser", kwargs=lambda w: {"pk": w.hold.pk}, data=lambda w: {"release_reason": "settled"},
        watch=lambda w: [w.hold])],
    "api-evidence-packs": [Write(
        allowed=frozenset({"auditor"}), data=lambda w: {"scope": "change", "change": w.in_review.number},
        watch=lambda w: _models("audit.EvidencePack"))],
    "api-evidence-keys": ReadOnly("list"),
    "api-evidence-pack": ReadOnly("read"),
    "api-evidence-pack-download": ReadOnly("a download (audited)"),

    # --- reports ----------------------------------------------------------------------------
    "reports:dashboard": ReadOnly(),
    "reports:team": ReadOnly(),
    "reports:service": ReadOnly(),
    "reports:runs": ReadOnly(),
    "reports:run-pdf": ReadOnly("a download"),
    "reports:run-data": ReadOnly("a download"),
    "reports:generate": [Write(
        allowed=frozenset({"executive", "release_manager", "rm_cab"}), data=lambda w: {"month": "2026-01"},
        watch=lambda w: _models("reports.ReportRun"))],
    "reports-dora": ReadOnly("read"),
    # --- provisioning over SCIM 2.0 (scim/views.py): only the `scim` persona (a service account's
    # token with the opt-in scope `scim`, tests/governance/conftest.py); every other token, person
    # or pipeline, is refused. The discovery endpoints only answer GET.
    "scim:users": [Write(
        allowed=SCIM, control="scim", data=lambda w: {"userName": "new-hire", "name": {"givenName": "New"}},
        watch=lambda w: _models("accounts.User"))],
    "scim:user": [
        Write(allowed=SCIM, control="scim", method="PUT", kwargs=_scim_executive,
              data=lambda w: {"userName": "exec", "name": {"givenName": "Eve", "familyName": "Renamed"}},
              watch=lambda w: [w.people["executive"]]),
        Write(allowed=SCIM, control="scim", method="PATCH", kwargs=_scim_executive,
              data=lambda w: {"Operations": [{"op": "replace", "path": "active", "value": False}]},
              watch=lambda w: [w.people["executive"]]),
        Write(allowed=SCIM, control="scim", method="DELETE", kwargs=_scim_executive,
              watch=lambda w: [w.people["executive"]]),
    ],
    "scim:groups": [Write(
        allowed=SCIM, control="scim", data=lambda w: {"displayName": "Newly provisioned"},
        watch=lambda w: _models("accounts.Team"))],
    "scim:group": [
        Write(allowed=SCIM, control="scim", method="PUT", kwargs=_scim_identity,
              data=lambda w: {"displayName": "Identity", "members": []},
              watch=lambda w: _models("accounts.TeamMembership")),
        Write(allowed=SCIM, control="scim", method="PATCH", kwargs=_scim_identity,
              data=lambda w: {"Operations": [{"op": "add", "path": "members",
                                              "value": [{"value": str(w.people["executive"].pk)}]}]},
              watch=lambda w: _models("accounts.TeamMembership")),
        Write(allowed=SCIM, control="scim", method="DELETE", kwargs=_scim_identity,
              watch=lambda w: _models("accounts.TeamMembership")),
    ],
}


ADMIN_PUBLIC = {"admin:login": Public("the admin's sign-in form"),
                "admin:logout": Public("signing out changes only the caller's own session")}


def entry_for(route) -> Any:
    if route.is_admin:
        return ADMIN_PUBLIC.get(route.name, AdminSite())
    return ROUTES.get(route.name)


def writes_for(route) -> list[Write]:
    entry = entry_for(route)
    return list(entry) if isinstance(entry, list) else []
