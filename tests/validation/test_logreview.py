"""First-hour log review: POST /api/v1/deployments/{id}/log-review/ lists the fingerprints never
seen before the deployment; a person signs it off in the browser (segregation: not the deployer,
not the implementer; a member of the owning team or a release manager); a high-risk production
change cannot complete (API and browser) until its review is signed off, and can after; the close
guard is declared, and its absence is a system check error and a refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes import close_guards
from apps.changes.models import ChangeRequest
from apps.delivery.models import Deployment
from apps.validation import logreview
from apps.validation.models import LogFingerprint, LogReview
from tests.delivery.conftest import approve_fully, change_type  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


def iso(moment):
    return moment.isoformat()


@pytest.fixture
def high_risk_change(change_type, requester, implementer, service, environments):  # noqa: F811
    now = timezone.now()
    change = ChangeRequest.objects.create(
        title="Ship the ledger rewrite", service=service, environment=environments["prod"], requester=requester,
        implementer=implementer, change_type=change_type, state="implementing", risk_level="high",
        planned_start=now - timedelta(hours=2), planned_end=now + timedelta(hours=2),
        rollback_plan="Redeploy 2.3.9", rollback_criteria={"error_rate_pct": 5, "window_minutes": 5})
    change.number = ChangeRequest.format_number(change.pk)
    change.save(update_fields=["number"])
    approve_fully(change)
    return change


@pytest.fixture
def deployment(high_risk_change, service, environments, service_account):
    return Deployment.objects.create(service=service, environment=environments["prod"], version="2.4.0",
                                     change=high_risk_change, status="succeeded", created_by=service_account,
                                     started_at=timezone.now() - timedelta(minutes=70),
                                     finished_at=timezone.now() - timedelta(minutes=65))


@pytest.fixture
def ci(api_client_for, service_account):
    return api_client_for(service_account)


def _url(deployment):
    return f"/api/v1/deployments/{deployment.pk}/log-review/"


def _entry(fingerprint, first_seen, count=3, message=None):
    return {"fingerprint": fingerprint, "message": message or f"error {fingerprint}", "count": count,
            "first_seen": iso(first_seen)}


def _earlier_review(service, environments, fingerprints, *, at):
    earlier = Deployment.objects.create(service=service, environment=environments["staging"], version="2.3.9",
                                        status="succeeded", started_at=at)
    review = LogReview.objects.create(deployment=earlier)
    for fingerprint in fingerprints:
        LogFingerprint.objects.create(review=review, service=service, fingerprint=fingerprint, count=1,
                                      first_seen=at + timedelta(minutes=5))
    return earlier


def test_only_fingerprints_never_seen_before_the_deployment_are_new(deployment, ci, service, environments):
    _earlier_review(service, environments, ["known-in-staging"], at=deployment.started_at - timedelta(days=1))
    after = deployment.started_at + timedelta(minutes=3)
    response = ci.post(_url(deployment), [
        _entry("known-in-staging", after),
        _entry("brand-new", after, count=40),
        # The log tool says it saw this one before the deployment started: not new.
        _entry("older-than-the-deployment", deployment.started_at - timedelta(minutes=1)),
    ], format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [e["fingerprint"] for e in body["new"]] == ["brand-new"]
    assert body["new"][0]["count"] == 40
    assert (body["total_fingerprints"], body["new_fingerprints"]) == (3, 1)
    assert body["status"] == "open" and body["sign_off_required"] is True
    review = LogReview.objects.get(deployment=deployment)
    assert {h.history_user.username for h in review.history.all()} == {"ci-bot"}
    assert AuditEvent.objects.get(action="validation.log_review_recorded").details["new"] == ["brand-new"]


def test_a_fingerprint_first_seen_by_a_later_deployment_does_not_hide_a_new_one(deployment, ci, service,
                                                                                environments):
    # Another review of the service, but its fingerprint appeared after this deployment started.
    _earlier_review(service, environments, ["brand-new"], at=deployment.started_at + timedelta(minutes=1))
    body = ci.post(_url(deployment), [_entry("brand-new", deployment.started_at + timedelta(minutes=2))],
                   format="json").json()
    assert body["new_fingerprints"] == 1


def test_posting_again_merges_counts_and_keeps_one_review(deployment, ci):
    after = deployment.started_at + timedelta(minutes=3)
    assert ci.post(_url(deployment), [_entry("a", after, count=5)], format="json").status_code == 201
    response = ci.post(_url(deployment), [_entry("a", after + timedelta(minutes=9), count=12), _entry("b", after)],
                       format="json")
    assert response.status_code == 200
    assert LogReview.objects.count() == 1
    a = LogFingerprint.objects.get(fingerprint="a")
    assert (a.count, a.first_seen) == (12, after)
    assert response.json()["total_fingerprints"] == 2


@pytest.mark.parametrize("body, field", [
    ([{"fingerprint": "", "count": 1, "first_seen": "2026-11-18T09:00:00+00:00"}], "[0].fingerprint"),
    ([{"fingerprint": "a", "count": -1, "first_seen": "2026-11-18T09:00:00+00:00"}], "[0].count"),
    ([{"fingerprint": "a", "count": 1, "first_seen": "yesterday"}], "[0].first_seen"),
    ([{"fingerprint": "a", "count": 1, "first_seen": "2026-11-18T09:00:00"}], "[0].first_seen"),
    # Offsets beyond ±15:59 and years the database cannot hold (PostgreSQL answered 500: issue 17).
    ([{"fingerprint": "a", "count": 1, "first_seen": "3102-09-14T20:53:55-18:33"}], "[0].first_seen"),
    ([{"fingerprint": "a", "count": 1, "first_seen": "2026-11-18T09:00:00+16:00"}], "[0].first_seen"),
    ([{"fingerprint": "a", "count": 1, "first_seen": "0001-01-01T00:00:00+01:00"}], "[0].first_seen"),
    ({"fingerprint": "a"}, "entries"),
])
def test_bad_entries_answer_400_naming_the_field(deployment, ci, body, field):
    response = ci.post(_url(deployment), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not LogReview.objects.exists()


def test_too_many_fingerprints_are_refused(deployment, ci):
    at = iso(deployment.started_at)
    body = [{"fingerprint": f"f{i}", "count": 1, "first_seen": at} for i in range(logreview.MAX_ENTRIES + 1)]
    response = ci.post(_url(deployment), body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_many_fingerprints"


def test_an_oversized_body_answers_413(deployment, ci):
    from apps.validation.canary_api import LOG_REVIEW_MAX_BYTES

    big = [{"fingerprint": "a", "message": "x" * (LOG_REVIEW_MAX_BYTES + 10), "count": 1,
            "first_seen": iso(deployment.started_at)}]
    assert ci.post(_url(deployment), big, format="json").status_code == 413


def test_an_outsider_and_another_team_get_nothing(deployment, api_client_for, outsider, other_team):
    from apps.accounts.models import User
    from tests.factories import UserFactory

    body = [_entry("a", deployment.started_at)]
    assert api_client_for(outsider).post(_url(deployment), body, format="json").status_code in (403, 404)
    other_ci = UserFactory(username="ci-identity", kind=User.Kind.SERVICE_ACCOUNT, owner_team=other_team)
    assert api_client_for(other_ci).post(_url(deployment), body, format="json").status_code == 403
    assert not LogReview.objects.exists()


# --- sign-off and the close guard --------------------------------------------------------------

def _sign_off_url(deployment):
    return f"/validation/deployments/{deployment.pk}/log-review/sign-off/"


def _post_review(ci, deployment, *fingerprints):
    after = deployment.started_at + timedelta(minutes=3)
    response = ci.post(_url(deployment), [_entry(f, after) for f in fingerprints or ("a",)], format="json")
    assert response.status_code in (200, 201), response.json()


def _complete_by_api(api_client_for, implementer, change):
    return api_client_for(implementer).post(f"/api/v1/changes/{change.number}/transition/",
                                            {"to_state": "completed"}, format="json")


def test_a_high_risk_production_change_completes_only_after_sign_off_through_the_api(
        deployment, high_risk_change, ci, client, approver, implementer, api_client_for):
    response = _complete_by_api(api_client_for, implementer, high_risk_change)
    assert response.status_code == 409 and response.json()["error"]["code"] == "log_review_sign_off_required"
    _post_review(ci, deployment)
    response = _complete_by_api(api_client_for, implementer, high_risk_change)
    assert response.status_code == 409 and "signed off" in response.json()["error"]["message"]
    high_risk_change.refresh_from_db()
    assert high_risk_change.state == "implementing"

    client.force_login(approver)  # a member of the owning team, neither deployer nor implementer
    response = client.post(_sign_off_url(deployment), {"note": "Two new warnings, both known upstream."})
    assert response.status_code == 302
    review = LogReview.objects.get()
    assert review.status == "signed_off" and review.signed_off_by == approver
    assert review.history.latest().history_user == approver
    assert AuditEvent.objects.get(action="validation.log_review_signed_off").actor == approver

    response = _complete_by_api(api_client_for, implementer, high_risk_change)
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "completed"


def test_a_high_risk_production_change_completes_only_after_sign_off_in_the_browser(
        deployment, high_risk_change, ci, client, approver, implementer):
    _post_review(ci, deployment)
    client.force_login(implementer)
    client.post(f"/changes/{high_risk_change.number}/move/", {"to_state": "completed"})
    high_risk_change.refresh_from_db()
    assert high_risk_change.state == "implementing"
    # The implementer may not certify the first hour of their own change.
    client.post(_sign_off_url(deployment))
    assert LogReview.objects.get().status == "open"

    client.force_login(approver)
    client.post(_sign_off_url(deployment))
    client.force_login(implementer)
    response = client.post(f"/changes/{high_risk_change.number}/move/", {"to_state": "completed"})
    assert response.status_code == 302
    high_risk_change.refresh_from_db()
    assert high_risk_change.state == "completed"


def test_a_low_risk_or_non_production_change_needs_no_sign_off(deployment, high_risk_change, api_client_for,
                                                                implementer):
    ChangeRequest.objects.filter(pk=high_risk_change.pk).update(risk_level="medium")
    high_risk_change.refresh_from_db()
    assert _complete_by_api(api_client_for, implementer, high_risk_change).status_code == 200


def test_a_succeeded_deployment_leaves_a_high_risk_change_implementing_until_sign_off(
        high_risk_change, service, environments, service_account):
    from guardian.shortcuts import assign_perm

    from apps.delivery import services as delivery

    assign_perm("catalog.deploy_service", service_account, service)
    delivery.deployment_record(service=service, environment=environments["prod"], version="2.4.1",
                               change=high_risk_change, status="succeeded", actor=service_account,
                               started_at=timezone.now() - timedelta(minutes=5), finished_at=timezone.now())
    high_risk_change.refresh_from_db()
    assert high_risk_change.state == "implementing"


def test_who_may_sign_off(deployment, ci, client, requester, implementer, release_manager, cab_member, outsider,
                          service_account):
    _post_review(ci, deployment)
    for person in (implementer, cab_member, service_account):  # implementer; another team; the deployer
        assert logreview.sign_off_refusal(user=person, deployment=deployment) is not None
    for person in (requester, release_manager):
        assert logreview.sign_off_refusal(user=person, deployment=deployment) is None
    client.force_login(outsider)
    assert client.post(_sign_off_url(deployment)).status_code in (403, 404)
    client.force_login(cab_member)
    client.post(_sign_off_url(deployment))
    assert LogReview.objects.get().status == "open"


def test_signing_off_twice_or_without_a_review_is_refused(deployment, ci, approver):
    from releaseportal.errors import Conflict

    with pytest.raises(Conflict, match="No first-hour log summary"):
        logreview.log_review_sign_off(deployment=deployment, actor=approver)
    _post_review(ci, deployment)
    logreview.log_review_sign_off(deployment=deployment, actor=approver)
    with pytest.raises(Conflict, match="already signed off"):
        logreview.log_review_sign_off(deployment=deployment, actor=approver)


def test_a_new_fingerprint_after_sign_off_reopens_the_review(deployment, ci, approver):
    _post_review(ci, deployment, "a")
    logreview.log_review_sign_off(deployment=deployment, actor=approver)
    _post_review(ci, deployment, "a")  # nothing new: stays signed off
    assert LogReview.objects.get().status == "signed_off"
    _post_review(ci, deployment, "a", "b")
    review = LogReview.objects.get()
    assert review.status == "open" and review.signed_off_by is None


def test_the_close_guard_is_declared_and_fails_closed_when_missing(deployment, high_risk_change, settings,
                                                                   api_client_for, implementer):
    assert logreview.GUARD_NAME in settings.CHANGE_CLOSE_GUARDS_EXPECTED
    ChangeRequest.objects.filter(pk=high_risk_change.pk).update(risk_level="low")
    high_risk_change.refresh_from_db()
    guard = close_guards.unregister_close_guard(logreview.GUARD_NAME)
    try:
        with pytest.raises(SystemCheckError, match="validation.log_review_signoff"):
            call_command("check")
        response = _complete_by_api(api_client_for, implementer, high_risk_change)
        assert response.status_code == 409 and response.json()["error"]["code"] == "close_guard_missing"
    finally:
        close_guards.register_close_guard(guard)


def test_a_guard_that_raises_refuses(high_risk_change, monkeypatch):
    from apps.changes.services import transition_refusal

    def broken(change, to_state):
        raise RuntimeError("boom")

    monkeypatch.setitem(close_guards._GUARDS, "tests.broken", close_guards.CloseGuard("tests.broken", broken))
    refusal = transition_refusal(high_risk_change, "completed")
    assert refusal is not None and refusal.code == "close_guard_error"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_posts_make_one_review_with_every_fingerprint(clock, service, environments,
                                                                         service_account):
    from tests.concurrency import race

    deployment = Deployment.objects.create(service=service, environment=environments["prod"], version="2.4.0",
                                           status="succeeded", created_by=service_account,
                                           started_at=timezone.now() - timedelta(minutes=30))
    after = deployment.started_at + timedelta(minutes=1)

    def post(i):
        entries = logreview.clean_entries([_entry(f"fp-{i}", after), _entry("shared", after, count=i)])
        return logreview.log_review_record(deployment=deployment, entries=entries, actor=service_account)[1]

    created = race(8, post)
    assert created.count(True) == 1
    review = LogReview.objects.get()
    assert review.total_fingerprints == 9 == LogFingerprint.objects.count()
    assert LogFingerprint.objects.get(fingerprint="shared").count == 7


def test_the_change_page_says_where_the_log_review_stands(deployment, high_risk_change, ci, client, approver):
    client.force_login(approver)
    page = client.get(f"/changes/{high_risk_change.number}/").content.decode()
    assert "First-hour log review" in page and "Not reported" in page
    _post_review(ci, deployment)
    page = client.get(f"/changes/{high_risk_change.number}/").content.decode()
    assert "Awaiting sign-off" in page and f"deployment #{deployment.pk}" in page
    logreview.log_review_sign_off(deployment=deployment, actor=approver)
    page = client.get(f"/changes/{high_risk_change.number}/").content.decode()
    assert "Signed off" in page and "adam" in page


def test_the_change_section_costs_nothing_for_other_changes(high_risk_change, django_assert_num_queries):
    from apps.validation.change_sections import sections

    high_risk_change.risk_level = "medium"
    with django_assert_num_queries(0):
        assert sections(None, high_risk_change) == []
