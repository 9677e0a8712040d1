"""A whole release taken to a CAB meeting: exactly its changes awaiting CAB approval join the
agenda, grouped under the release's name, and who did it is recorded (history + audit)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes.cab import cab_meeting_create
from apps.changes.models import CabAgendaItem, CabMeeting
from apps.releases import services
from apps.releases.cab_reviews import release_cab_add
from apps.releases.models import ReleaseCabReview
from releaseportal.errors import Conflict, NotAllowed

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(make_change):
    """make a change of the release's services that awaits CAB approval (submitted, CAB required)."""
    def make(svc=None):
        return make_change(state="in_review", env="prod", svc=svc, cab_required=True,
                           submitted_at=timezone.now() - timedelta(hours=2))
    return make


@pytest.fixture
def meeting(cab_member):
    return CabMeeting.objects.create(title="Weekly CAB", starts_at=timezone.now() + timedelta(days=1), quorum=1,
                                     chair=cab_member)


@pytest.fixture
def scoped(release, release_manager, awaiting, make_change, services_three):
    """The release holds two changes awaiting CAB and one already approved; another change awaits
    CAB outside the release."""
    waiting = [awaiting(), awaiting(services_three["ledger"])]
    approved = make_change(state="approved", env="prod", svc=services_three["web"])
    for change in [*waiting, approved]:
        services.release_change_add(release=release, change=change, actor=release_manager)
    outside = awaiting()
    return {"waiting": waiting, "approved": approved, "outside": outside}


def test_it_puts_exactly_the_releases_changes_awaiting_cab_on_the_agenda(release, meeting, scoped, release_manager):
    review = release_cab_add(release=release, meeting=meeting, actor=release_manager)
    on_agenda = set(CabAgendaItem.objects.filter(meeting=meeting).values_list("change_id", flat=True))
    assert on_agenda == {c.pk for c in scoped["waiting"]}
    assert review.added_by == release_manager
    assert review.changes == [c.number for c in scoped["waiting"]]
    assert review.history.get().history_user == release_manager
    event = AuditEvent.objects.get(action="release.cab_review_added")
    assert event.details["changes"] == review.changes and event.details["meeting"] == meeting.pk


def test_taking_it_again_adds_only_what_started_waiting_since(release, meeting, scoped, release_manager, awaiting):
    release_cab_add(release=release, meeting=meeting, actor=release_manager)
    with pytest.raises(Conflict) as exc:
        release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert exc.value.code == "already_on_agenda"
    later = awaiting()
    services.release_change_add(release=release, change=later, actor=release_manager)
    review = release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert review.changes[-1] == later.number and len(review.changes) == 3
    assert ReleaseCabReview.objects.count() == 1


@pytest.mark.parametrize("how", ["held", "cancelled", "over"])
def test_a_closed_or_past_meeting_is_refused(release, meeting, scoped, release_manager, how):
    if how == "over":
        CabMeeting.objects.filter(pk=meeting.pk).update(starts_at=timezone.now() - timedelta(hours=3))
    else:
        CabMeeting.objects.filter(pk=meeting.pk).update(status=how)
    meeting.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert exc.value.code == "meeting_closed"
    assert not CabAgendaItem.objects.exists() and not ReleaseCabReview.objects.exists()


def test_a_release_with_nothing_awaiting_cab_is_refused(release, meeting, release_manager, make_change):
    services.release_change_add(release=release, change=make_change(state="approved", env="prod"),
                                actor=release_manager)
    with pytest.raises(Conflict) as exc:
        release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert exc.value.code == "nothing_awaits_cab"
    assert not ReleaseCabReview.objects.exists()


def test_changes_already_on_the_agenda_are_grouped_under_the_release(release, meeting, scoped, release_manager):
    from apps.changes.cab import cab_agenda_refresh
    from apps.releases.cab_reviews import agenda_groups

    cab_agenda_refresh(meeting=meeting, actor=release_manager)
    review = release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert sorted(review.changes) == sorted(c.number for c in scoped["waiting"])
    groups = agenda_groups(meeting, list(meeting.agenda.values_list("change_id", flat=True)))
    assert groups == {c.pk: release.name for c in scoped["waiting"]}


def test_a_requester_may_not(release, meeting, scoped, requester):
    with pytest.raises(NotAllowed):
        release_cab_add(release=release, meeting=meeting, actor=requester)
    assert not CabAgendaItem.objects.exists()


# --- API ----------------------------------------------------------------------------------------

def test_the_api_answers_201_409_and_400(release, meeting, scoped, api_client_for, cab_member):
    api = api_client_for(cab_member)
    created = api.post(f"/api/v1/releases/{release.pk}/cab/", {"meeting": meeting.pk}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["changes"] == [c.number for c in scoped["waiting"]]
    assert created.json()["added_by"] == "cate"
    unknown = api.post(f"/api/v1/releases/{release.pk}/cab/", {"meeting": 999999}, format="json")
    assert unknown.status_code == 400 and "meeting" in unknown.json()["error"]["fields"]
    garbage = api.post(f"/api/v1/releases/{release.pk}/cab/", {"meeting": "soon"}, format="json")
    assert garbage.status_code == 400 and "meeting" in garbage.json()["error"]["fields"]
    assert api.post("/api/v1/releases/999999/cab/", {"meeting": meeting.pk}, format="json").status_code == 404
    CabMeeting.objects.filter(pk=meeting.pk).update(status="held")
    closed = api.post(f"/api/v1/releases/{release.pk}/cab/", {"meeting": meeting.pk}, format="json")
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "meeting_closed"


def test_an_outsider_gets_nothing(release, meeting, scoped, api_client_for, outsider, client):
    response = api_client_for(outsider).post(f"/api/v1/releases/{release.pk}/cab/", {"meeting": meeting.pk},
                                             format="json")
    assert response.status_code in (403, 404)
    client.force_login(outsider)
    assert client.post("/releases/cab/", {"release": release.pk, "meeting": meeting.pk}).status_code in (403, 404)
    assert not CabAgendaItem.objects.exists() and not ReleaseCabReview.objects.exists()


# --- pages --------------------------------------------------------------------------------------

def test_from_the_meeting_page_the_agenda_groups_the_release(release, meeting, scoped, client, cab_member,
                                                            release_manager, django_assert_max_num_queries):
    from apps.changes.cab import cab_agenda_add

    cab_agenda_add(meeting=meeting, changes=[scoped["outside"]], actor=release_manager)  # on the agenda first
    client.force_login(cab_member)
    html = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    assert "Add release to CAB meeting" in html and "Release: " not in html
    response = client.post("/releases/cab/", {"release": release.pk, "meeting": meeting.pk, "back": "meeting"})
    assert response.status_code == 302 and response["Location"] == f"/changes/cab/{meeting.pk}/"
    with django_assert_max_num_queries(25):
        html = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    group = html.index(f"Release: {release.name}")
    assert html.index(scoped["outside"].number) < group
    assert all(html.index(c.number, group) > group for c in scoped["waiting"])


def test_the_meeting_page_costs_the_same_whatever_the_release(release, meeting, scoped, client, cab_member,
                                                              release_manager, awaiting,
                                                              django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    release_cab_add(release=release, meeting=meeting, actor=release_manager)
    client.force_login(cab_member)
    with CaptureQueriesContext(connection) as small:
        client.get(f"/changes/cab/{meeting.pk}/")
    for _ in range(5):
        services.release_change_add(release=release, change=awaiting(), actor=release_manager)
    release_cab_add(release=release, meeting=meeting, actor=release_manager)
    with django_assert_num_queries(len(small)):
        client.get(f"/changes/cab/{meeting.pk}/")


def test_from_the_release_page(release, meeting, scoped, client, release_manager, requester):
    client.force_login(requester)
    assert "Add release to CAB meeting" not in client.get(f"/releases/{release.pk}/").content.decode()
    assert client.post("/releases/cab/", {"release": release.pk, "meeting": meeting.pk}).status_code == 403
    client.force_login(release_manager)
    assert "Add release to CAB meeting" in client.get(f"/releases/{release.pk}/").content.decode()
    response = client.post("/releases/cab/", {"release": release.pk, "meeting": meeting.pk, "back": "release"})
    assert response["Location"] == f"/releases/{release.pk}/"
    html = client.get(f"/releases/{release.pk}/").content.decode()
    assert "Weekly CAB" in html and scoped["waiting"][0].number in html
    assert ReleaseCabReview.objects.get().added_by == release_manager


def test_a_meeting_made_by_the_changes_app_takes_the_release_too(release, scoped, release_manager, cab_member):
    meeting = cab_meeting_create(actor=cab_member, title="CAB", starts_at=timezone.now() + timedelta(days=2), quorum=1,
                                 members=[cab_member])
    CabAgendaItem.objects.filter(meeting=meeting).delete()
    review = release_cab_add(release=release, meeting=meeting, actor=release_manager)
    assert sorted(review.changes) == sorted(c.number for c in scoped["waiting"])


def test_the_meeting_page_offers_only_releases_with_a_change_awaiting_cab(release, meeting, scoped, client,
                                                                          cab_member, train, release_manager):
    idle = services.release_create(actor=release_manager, name="Idle release", train=train,
                                   planned_start=release.planned_start, scope_lock_at=release.scope_lock_at,
                                   services=[scoped["approved"].service])
    client.force_login(cab_member)
    html = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    assert f'<option value="{release.pk}">{release.name}' in html and "2 changes awaiting CAB" in html
    assert idle.name not in html
    services.release_transition(release=release, to_state="cancelled", actor=release_manager)
    html = client.get(f"/changes/cab/{meeting.pk}/").content.decode()
    assert "No active release has a change awaiting CAB approval." in html and "Add release to CAB" not in html


def test_the_release_page_offers_cab_only_when_a_change_of_it_awaits_cab(release, meeting, client, release_manager,
                                                                         make_change, awaiting):
    services.release_change_add(release=release, change=make_change(state="approved", env="prod"),
                                actor=release_manager)
    client.force_login(release_manager)
    html = client.get(f"/releases/{release.pk}/").content.decode()
    assert "None of this release's changes awaits CAB approval." in html and "Add release to CAB meeting" not in html
    services.release_change_add(release=release, change=awaiting(), actor=release_manager)
    html = client.get(f"/releases/{release.pk}/").content.decode()
    assert "Add release to CAB meeting" in html and "awaits CAB approval." not in html
