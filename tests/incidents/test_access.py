"""An outsider (signed in, no role, no team) and an anonymous visitor get nothing from any
incident page or endpoint; members read; only the service's writers change."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.incidents import services
from apps.incidents.reviews import action_item_add, review_start
from apps.incidents.runbooks import runbook_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(incident, requester, service):
    review = review_start(incident=incident, actor=requester)
    item = action_item_add(review=review, title="Add a canary check", type="pipeline_check", owner=requester,
                           due_date=incident.started_at.date(), actor=requester)
    attachment = services.attachment_add(incident=incident, kind="log", actor=requester,
                                         upload=SimpleUploadedFile("app.log", b"boom\n"))
    runbook_create(service=service, owner=requester, actor=requester)
    return {"incident": incident, "item": item, "attachment": attachment, "service": service}


def _pages(w):
    i = w["incident"].pk
    slug = w["service"].slug
    return [
        ("get", "/incidents/"), ("get", "/incidents/new/"), ("post", "/incidents/new/"),
        ("get", f"/incidents/{i}/"), ("post", f"/incidents/{i}/updates/"), ("post", f"/incidents/{i}/link/"),
        ("post", f"/incidents/{i}/attachments/"), ("get", f"/incidents/{i}/attachments/{w['attachment'].pk}/"),
        ("post", f"/incidents/{i}/rollbacks/"), ("post", f"/incidents/{i}/review/start/"),
        ("get", f"/incidents/{i}/review/"), ("post", f"/incidents/{i}/review/"),
        ("post", f"/incidents/{i}/review/action-items/"), ("post", f"/incidents/action-items/{w['item'].pk}/status/"),
        ("get", "/incidents/reviews/"), ("get", "/incidents/action-items/"), ("get", "/incidents/patterns/"),
        ("post", f"/incidents/subscriptions/{slug}/"), ("get", "/runbooks/"), ("get", f"/runbooks/{slug}/"),
        ("post", f"/runbooks/{slug}/steps/"), ("post", f"/runbooks/{slug}/tests/"),
    ]


def _endpoints(w):
    i = w["incident"].pk
    return [("get", "/api/v1/incidents/"), ("post", "/api/v1/incidents/"), ("get", f"/api/v1/incidents/{i}/"),
            ("patch", f"/api/v1/incidents/{i}/"), ("post", f"/api/v1/incidents/{i}/updates/"),
            ("post", f"/api/v1/incidents/{i}/rollbacks/"), ("post", f"/api/v1/incidents/{i}/attachments/"),
            ("get", "/api/v1/incident-classifications/")]


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for method, url in _pages(world):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/login/" in response["Location"], (method, url)


def test_an_outsider_gets_403_on_every_page(client, outsider, world):
    client.force_login(outsider)
    for method, url in _pages(world):
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url, response.status_code)
        assert b"Card payments failing" not in response.content


def test_anonymous_api_calls_get_401(api_client, world):
    for method, url in _endpoints(world):
        response = getattr(api_client, method)(url, {}, format="json")
        assert response.status_code == 401, (method, url)


def test_an_outsider_gets_403_from_every_endpoint(api_client, outsider, world):
    from apps.accounts.services import api_token_create

    _, raw = api_token_create(user=outsider, actor=outsider, name="t", scopes=["incidents:read"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for method, url in _endpoints(world):
        response = getattr(api_client, method)(url, {}, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Card payments" not in response.content.decode()
    api_client.credentials()
    api_client.force_login(outsider)
    assert api_client.get(f"/api/v1/incidents/{world['incident'].pk}/").status_code == 403


def test_any_member_reads_but_a_stranger_to_the_service_cannot_write(client, executive, world):
    client.force_login(executive)
    i = world["incident"].pk
    assert client.get("/incidents/").status_code == 200
    assert client.get(f"/incidents/{i}/").status_code == 200
    assert client.get(f"/incidents/{i}/review/").status_code == 200
    assert client.post(f"/incidents/{i}/updates/", {"message": "hello"}).status_code == 403
    assert client.post(f"/incidents/{i}/attachments/", {"kind": "note", "text": "x"}).status_code == 403
    assert client.get("/incidents/new/").status_code == 403
    assert world["incident"].updates.filter(message="hello").count() == 0


def test_an_unknown_incident_is_404(client, requester, world):
    client.force_login(requester)
    assert client.get("/incidents/999999/").status_code == 404
