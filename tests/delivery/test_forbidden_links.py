"""Pages offer a link only to those who may open it: reconciliation (auditors, release managers,
executives) and "open one" incident on a service page (those who may open an incident for it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import Deployment

pytestmark = pytest.mark.django_db

RECONCILIATION = 'href="/delivery/reconciliation/"'


@pytest.fixture
def unauthorized_deployment(service, environments):
    now = timezone.now()
    return Deployment.objects.create(service=service, environment=environments["prod"], version="1.0.0",
                                     status="succeeded", started_at=now - timedelta(minutes=5), finished_at=now,
                                     is_unauthorized=True)


@pytest.mark.parametrize("persona", ["requester", "approver", "cab_member", "access_admin"])
def test_the_reconciliation_link_is_not_offered_to_those_it_refuses(client, request, persona,
                                                                    unauthorized_deployment):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    assert client.get("/delivery/reconciliation/").status_code == 403
    for url in ("/", "/delivery/"):
        response = client.get(url)
        assert response.status_code == 200
        assert RECONCILIATION not in response.content.decode(), url
    # The unauthorised deployments stay reviewable through the list every member may open (the
    # home panel that links to it is the release manager's: the home page is per role, #16).
    listing = client.get("/delivery/?unauthorized=1")
    assert listing.status_code == 200
    assert unauthorized_deployment.service.name in listing.content.decode()


@pytest.mark.parametrize("persona", ["auditor", "release_manager", "executive"])
def test_the_reconciliation_link_is_offered_to_those_who_may_open_it(client, request, persona,
                                                                     unauthorized_deployment):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/delivery/reconciliation/").status_code == 200
    assert RECONCILIATION in client.get("/delivery/").content.decode()
    assert RECONCILIATION in client.get("/").content.decode()


def test_the_service_page_offers_open_an_incident_only_to_who_may(client, access_admin, requester, service):
    create = f'href="/incidents/new/?service={service.slug}"'
    client.force_login(access_admin)
    assert client.get(f"/incidents/new/?service={service.slug}").status_code == 403
    page = client.get(f"/services/{service.slug}/").content.decode()
    assert "all incidents" in page
    assert create not in page
    client.force_login(requester)
    assert create in client.get(f"/services/{service.slug}/").content.decode()
