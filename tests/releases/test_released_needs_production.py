"""A release is marked released only when every service with a change in it has reached
production: through the API, the release page and the service alike, refused with a 409 that
names the services still waiting, nothing written."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.releases import services
from apps.releases.models import Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipping(release, release_manager, make_change, services_three):
    """The June release, in progress, with a change for ledger and one for web."""
    ledger = make_change(state="approved", env="prod", svc=services_three["ledger"])
    web = make_change(state="approved", env="prod", svc=services_three["web"])
    for change in (ledger, web):
        services.release_change_add(release=release, change=change, actor=release_manager)
    for state in ("scope_locked", "in_progress"):
        services.release_transition(release=release, to_state=state, actor=release_manager)
    release.refresh_from_db()
    return release, {"ledger": ledger, "web": web}


def _ship(change, environment, status="succeeded"):
    from apps.delivery.models import Deployment

    Deployment.objects.create(service=change.service, environment=environment, change=change, status=status)


def test_undeployed_services_are_named_and_the_release_stays_in_progress(shipping, api_client_for,
                                                                          release_manager, environments):
    release, changes = shipping
    _ship(changes["ledger"], environments["prod"])
    _ship(changes["web"], environments["staging"])  # staging is not production
    _ship(changes["web"], environments["prod"], status="failed")  # a failed deployment ships nothing
    events = AuditEvent.objects.filter(action__startswith="release.").count()

    response = api_client_for(release_manager).post(f"/api/v1/releases/{release.pk}/transition/",
                                                    {"to_state": "released"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "waves_not_deployed"
    assert "web" in error["message"] and "ledger" not in error["message"]
    assert error["fields"]["waves"] == ["Not in production: web"]
    release.refresh_from_db()
    assert release.state == "in_progress" and release.released_at is None
    assert AuditEvent.objects.filter(action__startswith="release.").count() == events


def test_the_release_page_says_why_and_releases_once_every_wave_shipped(shipping, client, release_manager,
                                                                         environments):
    release, changes = shipping
    client.force_login(release_manager)
    refused = client.post(f"/releases/{release.pk}/move/", {"to_state": "released"}, follow=True)
    assert refused.status_code == 200
    assert "not yet deployed to production: ledger, web" in refused.content.decode()
    assert Release.objects.get(pk=release.pk).state == "in_progress"

    for change in changes.values():
        _ship(change, environments["prod"])
    client.post(f"/releases/{release.pk}/move/", {"to_state": "released"})
    release.refresh_from_db()
    assert release.state == "released" and release.released_at is not None
    assert AuditEvent.objects.filter(action="release.released", object_id=str(release.pk)).count() == 1


def test_a_release_without_changes_has_nothing_to_ship(release, release_manager):
    for state in ("scope_locked", "in_progress", "released"):
        services.release_transition(release=release, to_state=state, actor=release_manager)
    assert Release.objects.get(pk=release.pk).state == "released"
