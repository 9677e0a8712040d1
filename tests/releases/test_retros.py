# ruff: noqa: F811
"""The improvement loop: a retrospective after every release and every rollback, user issues
filed against a release, and typed actions that close only when what they produced is live;
the monthly figures (opened, shipped, overdue, recurring incident patterns) on a pinned clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.delivery.models import Deployment
from apps.releases import retros
from apps.releases import templates_services as templates
from apps.releases.models import Release, RetroAction, Retrospective, UserIssue

pytestmark = pytest.mark.django_db


@pytest.fixture
def rm_api(api_client_for, release_manager):
    return api_client_for(release_manager, ["delivery:read", "releases:write"])


@pytest.fixture
def shipped(release):
    Release.objects.filter(pk=release.pk).update(state="released", released_at=timezone.now())
    release.refresh_from_db()
    return release


@pytest.fixture
def retro(shipped, release_manager):
    return retros.retrospective_open(kind="release", release=shipped, actor=release_manager)


def _action(retro, owner, link_kind, link_ref, due=None):
    return retros.retro_action_add(retrospective=retro, title="Do better", type="new_check", owner=owner,
                                   due_date=due or dt.date(2030, 1, 1), link_kind=link_kind, link_ref=link_ref,
                                   actor=owner)


# --- retrospectives -------------------------------------------------------------------------

def test_a_release_retrospective_needs_a_shipped_release_and_is_opened_once(rm_api, release):
    refused = rm_api.post("/api/v1/retrospectives/", {"kind": "release", "release": release.pk}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "release_not_released"
    Release.objects.filter(pk=release.pk).update(state="released", released_at=timezone.now())
    created = rm_api.post("/api/v1/retrospectives/", {"kind": "release", "release": release.pk}, format="json")
    assert created.status_code == 201, created.json()
    again = rm_api.post("/api/v1/retrospectives/", {"kind": "release", "release": release.pk}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "retrospective_exists"
    assert AuditEvent.objects.filter(action="releases.retrospective_opened").count() == 1


def test_every_release_and_production_rollback_gets_its_retrospective_once(shipped, release_manager, environments,
                                                                           service):
    now = timezone.now()
    rollback = Deployment.objects.create(service=service, environment=environments["prod"], kind="rollback",
                                         status="succeeded", started_at=now, finished_at=now)
    Deployment.objects.create(service=service, environment=environments["staging"], kind="rollback",
                              status="succeeded", started_at=now, finished_at=now)
    since = now - dt.timedelta(days=1)
    assert retros.retrospectives_open_missing(actor=release_manager, since=since) == 2
    assert retros.retrospectives_open_missing(actor=release_manager, since=since) == 0
    kinds = set(Retrospective.objects.values_list("kind", "deployment_id"))
    assert kinds == {("release", None), ("rollback", rollback.pk)}


def test_a_requester_cannot_open_a_retrospective(api_client_for, requester, shipped):
    response = api_client_for(requester).post("/api/v1/retrospectives/", {"kind": "release", "release": shipped.pk},
                                              format="json")
    assert response.status_code == 403
    assert not Retrospective.objects.exists()


# --- actions close only when live -------------------------------------------------------------

def test_a_gate_rule_action_closes_only_once_the_rule_is_registered(rm_api, retro, release_manager):
    missing = _action(retro, release_manager, "gate_rule", "releases.not_yet_written")
    refused = rm_api.post(f"/api/v1/retro-actions/{missing.pk}/close/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_live"
    assert "not registered" in refused.json()["error"]["message"]
    live = _action(retro, release_manager, "gate_rule", "releases.dependencies")
    closed = rm_api.post(f"/api/v1/retro-actions/{live.pk}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "shipped"
    assert "registered" in closed.json()["verification"]
    assert AuditEvent.objects.filter(action="releases.retro_action_shipped").count() == 1
    missing.refresh_from_db()
    assert missing.status == "open" and missing.shipped_at is None


def test_a_template_version_action_closes_once_the_version_is_approved(retro, release_manager, make_change):
    template = templates.template_create(slug="std", name="Std", actor=release_manager)
    change = make_change(state="in_review")
    version = templates.template_version_propose(template=template, version="2", change=change, actor=release_manager)
    action = _action(retro, release_manager, "template_version", "std@2")
    with pytest.raises(Exception, match="std@2 is proposed"):
        retros.retro_action_close(action=action, actor=release_manager)
    from tests.delivery.conftest import approve_fully

    change.state = "approved"
    change.save(update_fields=["state"])
    approve_fully(change)
    templates.template_version_approve(version=version, actor=release_manager)
    assert retros.retro_action_close(action=action, actor=release_manager).status == "shipped"


def test_a_policy_change_action_closes_once_the_change_is_completed(retro, release_manager, make_change):
    change = make_change(state="scheduled")
    action = _action(retro, release_manager, "policy_change", change.number)
    with pytest.raises(Exception, match="is scheduled"):
        retros.retro_action_close(action=action, actor=release_manager)
    change.state = "completed"
    change.save(update_fields=["state"])
    assert retros.retro_action_close(action=action, actor=release_manager).status == "shipped"


def test_a_health_check_action_names_service_environment_and_metric(retro, release_manager, environments):
    from releaseportal.errors import InvalidInput

    for ref in ("payments /healthz", "payments-api/prod", "nope/prod:error_rate_pct"):
        with pytest.raises(InvalidInput) as exc:
            _action(retro, release_manager, "health_check", ref)
        assert "link_ref" in exc.value.fields
    assert not RetroAction.objects.exists()


def _policy(service, environment, actor, metrics):
    from apps.validation.services import health_policy_set

    return health_policy_set(service=service, environment=environment, actor=actor, data={
        "validation_minutes": 60, "smoke_required_within_minutes": None, "auto_rollback": False,
        "checks": [{"metric": m, "comparator": ">", "threshold": 5.0, "for_minutes": 5} for m in metrics],
        "canary": {"metrics": [], "pass_score": 95, "marginal_score": 75}})


def test_a_monitoring_action_closes_only_once_its_health_check_is_active(retro, release_manager, environments,
                                                                        service):
    action = retros.retro_action_add(
        retrospective=retro, title="Alert on checkout latency", type="monitoring_coverage", owner=release_manager,
        due_date=dt.date(2030, 1, 1), link_kind="health_check", link_ref="payments-api/prod:p95_latency_ms",
        actor=release_manager)
    assert action.health_policy is None
    with pytest.raises(Exception, match="no health policy"):
        retros.retro_action_close(action=action, actor=release_manager)
    policy = _policy(service, environments["prod"], release_manager, ["error_rate_pct"])
    with pytest.raises(Exception, match="no check on p95_latency_ms"):
        retros.retro_action_close(action=action, actor=release_manager)
    action.refresh_from_db()
    assert action.status == "open"
    _policy(service, environments["prod"], release_manager, ["error_rate_pct", "p95_latency_ms"])
    closed = retros.retro_action_close(action=action, actor=release_manager)
    assert closed.status == "shipped" and closed.health_policy == policy
    assert "active in the validation health policy" in closed.verification
    event = AuditEvent.objects.filter(action="releases.retro_action_shipped").get()
    assert event.details["link_kind"] == "health_check"


def test_a_health_check_action_links_the_policy_it_extends(retro, release_manager, environments, service):
    policy = _policy(service, environments["prod"], release_manager, ["error_rate_pct"])
    action = _action(retro, release_manager, "health_check", "payments-api/prod:error_rate_pct")
    assert action.health_policy == policy
    assert retros.retro_action_close(action=action, actor=release_manager).status == "shipped"


def test_an_action_names_its_type_and_link(rm_api, retro, release_manager):
    bad = rm_api.post(f"/api/v1/retrospectives/{retro.pk}/actions/", {
        "title": "x", "type": "vibes", "owner": release_manager.username, "due_date": "2030-01-01",
        "link_kind": "gate_rule", "link_ref": "r"}, format="json")
    assert bad.status_code == 400 and "type" in bad.json()["error"]["fields"]
    ok = rm_api.post(f"/api/v1/retrospectives/{retro.pk}/actions/", {
        "title": "Gate on dependencies", "type": "new_check", "owner": release_manager.username,
        "due_date": "2030-01-01", "link_kind": "gate_rule", "link_ref": "releases.dependencies"}, format="json")
    assert ok.status_code == 201 and ok.json()["status"] == "open"


# --- user issues ----------------------------------------------------------------------------

def test_support_files_a_user_issue_against_a_release(api_client_for, requester, release, services_three):
    client = api_client_for(requester, ["incidents:write", "delivery:read"])
    response = client.post(f"/api/v1/releases/{release.pk}/issues/", {
        "title": "Checkout button greyed out", "channel": "support", "impact": "high", "service": "payments-api",
        "customer_reference": "ZD-1234"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["reported_by"] == requester.username
    assert client.get(f"/api/v1/releases/{release.pk}/issues/").json()[0]["customer_reference"] == "ZD-1234"
    assert AuditEvent.objects.filter(action="releases.user_issue_filed").count() == 1


def test_an_issue_for_a_service_outside_the_release_is_refused(api_client_for, requester, release, team):
    from tests.factories import ServiceFactory

    ServiceFactory(slug="elsewhere", owner_team=team)
    response = api_client_for(requester).post(f"/api/v1/releases/{release.pk}/issues/", {
        "title": "x", "channel": "support", "service": "elsewhere"}, format="json")
    assert response.status_code == 400 and "service" in response.json()["error"]["fields"]
    assert not UserIssue.objects.exists()


def test_the_issue_form_files_and_returns_to_the_release(client, requester, release):
    client.force_login(requester)
    assert client.get(f"/releases/{release.pk}/issues/new/").status_code == 200
    response = client.post(f"/releases/{release.pk}/issues/new/", {
        "title": "Reports load slowly", "channel": "operations", "impact": "medium"})
    assert response.status_code == 302 and response["Location"] == f"/releases/{release.pk}/"
    assert UserIssue.objects.get().channel == "operations"


def test_an_outsider_gets_nothing(client, api_client_for, outsider, retro, release):
    assert api_client_for(outsider).get("/api/v1/retrospectives/").status_code in (401, 403)
    client.force_login(outsider)
    for url in ("/releases/retrospectives/", f"/releases/{release.pk}/issues/new/"):
        response = client.get(url)
        assert response.status_code in (302, 403, 404)
        assert b"Retrospective" not in response.content
    assert client.post(f"/releases/{release.pk}/issues/new/", {"title": "x", "channel": "support",
                                                               "impact": "low"}).status_code in (302, 403, 404)
    assert not UserIssue.objects.exists()


def test_the_retrospective_page_costs_a_fixed_number_of_queries(client, requester, retro, release_manager,
                                                                django_assert_max_num_queries):
    client.force_login(requester)
    with django_assert_max_num_queries(10):
        assert client.get("/releases/retrospectives/").status_code == 200
    for n in range(8):
        _action(retro, release_manager, "gate_rule", f"rule.{n}")
    with django_assert_max_num_queries(10):
        page = client.get("/releases/retrospectives/")
    assert b"rule.7" in page.content


# --- the monthly figures --------------------------------------------------------------------

@pytest.fixture
def october(clock, retro, release_manager, team, other_team, service):
    """October 2026, seen on the 20th: four actions (one shipped, two overdue, one not yet due,
    one of them opened in September) and incidents of two classifications, one in two teams."""
    from apps.incidents.models import Incident, IncidentClassification
    from tests.factories import ServiceFactory

    clock("2026-10-20 12:00")
    at = lambda day: dt.datetime(2026, 10, day, 9, tzinfo=dt.UTC)  # noqa: E731
    a = _action(retro, release_manager, "gate_rule", "releases.dependencies", due=dt.date(2026, 10, 10))
    b = _action(retro, release_manager, "gate_rule", "nope", due=dt.date(2026, 10, 5))       # overdue
    c = _action(retro, release_manager, "gate_rule", "nope", due=dt.date(2026, 12, 1))       # not yet due
    d = _action(retro, release_manager, "gate_rule", "nope", due=dt.date(2026, 9, 1))        # opened in September
    RetroAction.objects.filter(pk__in=[a.pk, b.pk, c.pk]).update(opened_at=at(2))
    RetroAction.objects.filter(pk=d.pk).update(opened_at=dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    RetroAction.objects.filter(pk=a.pk).update(status="shipped", shipped_at=at(15))
    config = IncidentClassification.objects.create(slug="config", name="Configuration error")
    defect = IncidentClassification.objects.create(slug="defect", name="Code defect")
    other = ServiceFactory(slug="identity-api", owner_team=other_team)
    for svc, cls, day in ((service, config, 3), (other, config, 4), (service, config, 5), (service, defect, 6),
                          (service, defect, 28)):
        Incident.objects.create(service=svc, title="x", severity="sev3", started_at=at(day), classification=cls)
    Incident.objects.create(service=other, title="x", severity="sev3", classification=defect,
                            started_at=dt.datetime(2026, 9, 30, tzinfo=dt.UTC))
    return {"other": other, "bounds": (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))}


def test_the_monthly_figures_count_actions_and_recurring_patterns(october, team, other_team):
    start, end = october["bounds"]
    figures = retros.retro_month_figures(start=start, end=end, as_of=timezone.now())
    assert (figures["actions_opened"], figures["actions_shipped"], figures["actions_overdue"]) == (3, 1, 2)
    assert figures["incident_patterns"] == [
        {"classification": "Configuration error", "incidents": 3, "teams": sorted([team.name, other_team.name])},
        {"classification": "Code defect", "incidents": 2, "teams": [team.name]},
    ]
    (alert,) = figures["recurring_alerts"]
    assert alert.startswith("Configuration error recurred in 2 teams")
    # A team's report sees only its own services: nothing recurs across teams there.
    scoped = retros.retro_month_figures(start=start, end=end, as_of=timezone.now(),
                                        service_ids=[october["other"].pk])
    assert scoped["recurring_alerts"] == [] and scoped["actions_opened"] == 0


def test_the_monthly_report_shows_the_loop(october):
    from django.template.loader import render_to_string

    from apps.reports.governance import compute_governance
    from apps.reports.metrics import compute_report
    from apps.reports.pdf import report_context
    from apps.reports.periods import Month

    month = Month(2026, 10)
    report = compute_report(month)
    governance = compute_governance(report.prep, month, service_ids=None, as_of=report.as_of)
    assert (governance.retros["actions_opened"], governance.retros["actions_shipped"],
            governance.retros["actions_overdue"]) == (3, 1, 2)
    html = render_to_string("reports/pdf/report.html", report_context(
        report, governance, generated_by="test", generated_at=timezone.now()))
    assert "Retrospective actions overdue" in html
    assert "Configuration error recurred in 2 teams" in html


def test_the_hourly_task_opens_what_is_missing_as_the_task(shipped):
    from apps.releases.tasks import open_missing_retrospectives

    assert open_missing_retrospectives() == 1
    assert open_missing_retrospectives() == 0
    event = AuditEvent.objects.get(action="releases.retrospective_opened")
    assert event.actor_type == "task"


def test_the_demo_retrospective_shipped_the_dependency_gate_rule_and_is_idempotent(shipped, release_manager,
                                                                                   environments, service):
    from types import SimpleNamespace

    from apps.releases.demo_retros import seed_retros

    now = timezone.now()
    Deployment.objects.create(service=service, environment=environments["prod"], kind="rollback", status="succeeded",
                              started_at=now, finished_at=now)
    ctx = SimpleNamespace(users={"heidi": release_manager}, now=now, say=lambda message: None)
    seed_retros(ctx)
    seed_retros(ctx)
    assert Retrospective.objects.count() == 2 and UserIssue.objects.count() == 1
    rule_action = RetroAction.objects.get(link_kind="gate_rule")
    assert rule_action.link_ref == "releases.dependencies" and rule_action.status == "shipped"
    assert RetroAction.objects.count() == 2
