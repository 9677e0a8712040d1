"""Incident pages render for members at a fixed number of queries, and the forms work."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.incidents import services
from apps.incidents.models import Incident, IncidentAttachment, IncidentRollback, Review
from apps.incidents.reviews import action_item_add, review_start
from apps.incidents.runbooks import runbook_create
from tests.factories import ServiceFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(service, team, requester, make_deployment):
    """Several incidents across two services, with links, reviews, action items and runbooks."""
    other = ServiceFactory(slug="ledger", name="Ledger", owner_team=team)
    now = timezone.now()
    incidents = []
    for n in range(8):
        svc = service if n % 2 else other
        make_deployment(svc=svc, finished_at=now - timedelta(days=40 - n), version=f"2.{n}")
        incident = services.incident_open(service=svc, title=f"Incident {n}", severity=f"sev{n % 4 + 1}",
                                          started_at=now - timedelta(days=39 - n), actor=requester,
                                          classification=None)
        incidents.append(incident)
        review = review_start(incident=incident, actor=requester)
        action_item_add(review=review, title=f"Fix {n}", type="new_test", owner=requester,
                        due_date=timezone.localdate() - timedelta(days=n - 3), actor=requester)
    runbook_create(service=service, owner=requester, actor=requester)
    runbook_create(service=other, owner=requester, actor=requester)
    return incidents


@pytest.mark.parametrize("url", ["/incidents/", "/incidents/?status=open&severity=sev2", "/incidents/reviews/",
                                 "/incidents/reviews/?overdue=1", "/incidents/action-items/",
                                 "/incidents/action-items/?overdue=1&mine=1", "/incidents/patterns/", "/runbooks/"])
def test_list_pages_cost_a_fixed_number_of_queries(client, requester, dataset, url, django_assert_max_num_queries):
    client.force_login(requester)
    client.get(url)  # warm per-process caches (navigation, content types)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200


def test_the_list_shows_each_incident_with_its_link_kind(client, requester, dataset):
    client.force_login(requester)
    html = client.get("/incidents/").content.decode()
    for incident in dataset:
        assert incident.reference in html
    assert ">inferred<" in html


def test_the_detail_page_shows_the_timeline_and_link(client, requester, dataset, django_assert_max_num_queries):
    incident = dataset[1]
    client.force_login(requester)
    client.get(f"/incidents/{incident.pk}/")
    with django_assert_max_num_queries(30):
        response = client.get(f"/incidents/{incident.pk}/")
    html = response.content.decode()
    assert "Status timeline" in html and "inferred" in html and "Post an update" in html


def test_posting_an_update_with_htmx_returns_the_new_timeline(client, requester, incident):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/updates/", {"message": "Rolled the flag back",
                                                                 "status": "mitigated"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rolled the flag back" in html and 'id="timeline-block"' in html and "Mitigated" in html
    incident.refresh_from_db()
    assert incident.status == "mitigated"


def test_a_refused_transition_is_shown_not_raised(client, requester, incident):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/updates/", {"status": "closed"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "cannot move to closed" in response.content.decode()


def test_opening_an_incident_in_the_browser(client, requester, service):
    client.force_login(requester)
    assert client.get("/incidents/new/").status_code == 200
    response = client.post("/incidents/new/", {"service": "payments-api", "title": "Login slow", "severity": "sev3",
                                               "started_at": (timezone.localtime() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")})
    incident = Incident.objects.get(title="Login slow")
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"


def test_a_team_member_cannot_open_for_another_teams_service(client, roles_ready, other_team, service):
    from tests.factories import UserFactory

    stranger = UserFactory(username="sid", team=other_team)
    client.force_login(stranger)
    response = client.post("/incidents/new/", {"service": "payments-api", "title": "x", "severity": "sev3",
                                               "started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 200 and not Incident.objects.exists()


def test_overriding_the_link_in_the_browser(client, requester, incident, make_deployment):
    chosen = make_deployment(finished_at=timezone.now() - timedelta(days=3))
    client.force_login(requester)
    client.post(f"/incidents/{incident.pk}/link/", {"target": str(chosen.pk), "reason": "Bad migration"})
    incident.refresh_from_db()
    assert incident.caused_by_deployment == chosen and incident.link_override_reason == "Bad migration"
    client.post(f"/incidents/{incident.pk}/link/", {"target": "none", "reason": "DNS provider"})
    incident.refresh_from_db()
    assert incident.caused_by_deployment is None and incident.link_suppressed


def test_attaching_and_recording_a_rollback_in_the_browser(client, requester, incident, make_deployment):
    failed = make_deployment(finished_at=T0, version="2.0")
    rollback = make_deployment(kind="rollback", finished_at=timezone.now() - timedelta(minutes=1), version="1.9",
                               rollback_of=failed)
    client.force_login(requester)
    client.post(f"/incidents/{incident.pk}/attachments/", {"kind": "log", "file": SimpleUploadedFile("a.log", b"x")})
    assert IncidentAttachment.objects.filter(incident=incident).count() == 1
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'value="{rollback.pk}"' in html
    client.post(f"/incidents/{incident.pk}/rollbacks/", {"deployment": rollback.pk})
    recorded = IncidentRollback.objects.get(incident=incident)
    assert recorded.deployment == rollback and recorded.failed_deployment == failed


def test_rollbacks_via_the_api_check_kind_and_service(api_client_for, requester, incident, make_deployment, team):
    client = api_client_for(requester)
    normal = make_deployment(finished_at=T0)
    url = f"/api/v1/incidents/{incident.pk}/rollbacks/"
    response = client.post(url, {"deployment": normal.pk}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_a_rollback"
    elsewhere = make_deployment(svc=ServiceFactory(slug="ledger", owner_team=team), kind="rollback", finished_at=T0)
    assert client.post(url, {"deployment": elsewhere.pk}, format="json").json()["error"]["code"] == "service_mismatch"
    rollback = make_deployment(kind="rollback", finished_at=T0 + timedelta(hours=1), version="0.9")
    created = client.post(url, {"deployment": rollback.pk, "failed_deployment": normal.pk}, format="json")
    assert created.status_code == 201 and created.json()["failed_deployment"] == normal.pk
    again = client.post(url, {"deployment": rollback.pk}, format="json")
    assert again.status_code == 409


def test_starting_and_completing_a_review_in_the_browser(client, requester, incident):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/review/start/")
    assert response.status_code == 302
    client.post(f"/incidents/{incident.pk}/review/", {"summary": "Pool exhausted", "contributing_factors": "No limit",
                                                      "timeline": "", "what_went_well": "", "complete": "1"})
    assert Review.objects.get(incident=incident).status == "completed"


def test_the_service_page_flags_an_overdue_runbook(client, requester, service):
    runbook_create(service=service, owner=requester, actor=requester)
    client.force_login(requester)
    html = client.get(f"/services/{service.slug}/").content.decode()
    assert 'data-testid="runbook-overdue"' in html


def test_the_dashboard_panels_cost_a_fixed_number_of_queries(rf, requester, dataset, django_assert_max_num_queries):
    from apps.incidents.dashboard import panels

    request = rf.get("/")
    request.user = requester
    requester.role_names()
    requester.memberships.exists()
    with django_assert_max_num_queries(6):
        result = panels(request)
    assert {p["title"] for p in result} >= {"Active incidents", "Overdue post-incident follow-up"}


def test_the_dashboard_lists_overdue_follow_up(client, requester, release_manager, auditor, dataset):
    client.force_login(requester)
    html = client.get("/").content.decode()
    assert "Overdue post-incident follow-up" in html
    # Chasing runbook tests is the release manager's; auditors see none of it (issue #16).
    assert "Rollback runbooks overdue for a test" not in html
    client.force_login(release_manager)
    assert "Rollback runbooks overdue for a test" in client.get("/").content.decode()
    client.force_login(auditor)
    html = client.get("/").content.decode()
    assert "Rollback runbooks overdue for a test" not in html and "Active incidents" not in html


def test_subscribing_from_the_service_page(client, executive, service):
    client.force_login(executive)
    client.post(f"/incidents/subscriptions/{service.slug}/", {"subscribe": "1", "next": "https://evil.test/"})
    assert service.incident_subscriptions.filter(user=executive).exists()


def test_editing_severity_and_commander_in_the_browser(client, requester, approver, incident):
    client.force_login(requester)
    assert 'id="edit-severity"' in client.get(f"/incidents/{incident.pk}/").content.decode()
    client.post(f"/incidents/{incident.pk}/edit/", {"title": incident.title, "severity": "sev1",
                                                    "classification": "", "commander": approver.username})
    incident.refresh_from_db()
    assert incident.severity == "sev1" and incident.commander == approver


@pytest.mark.parametrize("target", ["abc", "999999", ""])
def test_a_bad_link_target_is_refused_with_a_message_and_changes_nothing(client, requester, incident, target):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/link/", {"target": target, "reason": "Because"}, follow=True)
    text = response.content.decode()
    assert ("Unknown deployment." if target else "Choose the link and give a reason.") in text
    incident.refresh_from_db()
    assert incident.caused_by_deployment is None and not incident.link_suppressed
    assert incident.link_override_reason == ""


def test_a_rollback_naming_an_unknown_deployment_is_refused(client, requester, incident):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/rollbacks/", {"deployment": 999999}, follow=True)
    assert "Unknown deployment." in response.content.decode()
    response = client.post(f"/incidents/{incident.pk}/rollbacks/", {"deployment": "x"}, follow=True)
    assert "Choose the rollback deployment." in response.content.decode()
    assert not IncidentRollback.objects.filter(incident=incident).exists()


def test_an_edit_with_bad_input_names_the_field_and_saves_nothing(client, requester, incident):
    client.force_login(requester)
    response = client.post(f"/incidents/{incident.pk}/edit/", {"title": "", "severity": "sev9"}, follow=True)
    text = response.content.decode()
    assert "title:" in text and "severity:" in text
    incident.refresh_from_db()
    assert incident.title == "Card payments failing" and incident.severity == "sev2"
