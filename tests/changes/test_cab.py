"""CAB meetings: members, quorum, an agenda of changes that need CAB, minutes, and a decision
per agenda item recorded as the CAB stage's approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes.cab import cab_attendance_set, cab_item_decide, cab_meeting_create, cab_minutes_record
from apps.changes.models import Approval
from apps.changes.services import approval_record
from releaseportal.errors import Conflict


@pytest.fixture
def cab_type(make_type):
    return make_type("cabbed", [{"name": "Tech", "group": "approver"},
                                {"name": "CAB", "group": "cab_member", "rule": "quorum", "quorum": 3, "is_cab": True,
                                 "applies_when": "cab"}], cab_required="always")


@pytest.fixture
def board(person, cab_member):
    return [cab_member, person("cab2", roles=("cab_member",)), person("cab3", roles=("cab_member",))]


def test_the_agenda_holds_changes_needing_cab(cab_type, simple_type, make_change, release_manager, board):
    needing = make_change(cab_type, submit=True)
    make_change(simple_type, submit=True)
    meeting = cab_meeting_create(actor=release_manager, title="Weekly CAB", starts_at=timezone.now() + timedelta(days=7),
                                 quorum=2, members=board)
    assert [item.change for item in meeting.agenda.all()] == [needing]


def test_a_decision_needs_quorum_and_is_recorded_as_the_cab_approval(cab_type, make_change, release_manager, board,
                                                                     approver):
    change = make_change(cab_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    meeting = cab_meeting_create(actor=release_manager, title="Weekly CAB", starts_at=timezone.now() + timedelta(days=7),
                                 quorum=2, members=board)
    item = meeting.agenda.get()
    cab_attendance_set(meeting=meeting, present_user_ids={board[0].pk}, actor=release_manager)
    with pytest.raises(Conflict) as exc:
        cab_item_decide(item=item, decision="approve", notes="", actor=release_manager)
    assert exc.value.code == "no_quorum"
    cab_attendance_set(meeting=meeting, present_user_ids={board[0].pk, board[1].pk}, actor=release_manager)
    cab_item_decide(item=item, decision="approve", notes="Go on Tuesday", actor=release_manager)
    cab_approval = Approval.objects.get(change=change, stage__is_cab=True)
    assert cab_approval.cab_meeting == meeting
    assert cab_approval.comment.startswith(f"Decided in CAB {meeting.starts_at:%Y-%m-%d}")
    change.refresh_from_db()
    assert change.state == "approved"
    cab_minutes_record(meeting=meeting, minutes="Approved CHG with conditions", actor=release_manager)
    meeting.refresh_from_db()
    assert meeting.minutes


def test_the_cab_stage_must_be_open(cab_type, make_change, release_manager, board):
    change = make_change(cab_type, submit=True)
    meeting = cab_meeting_create(actor=release_manager, title="CAB", starts_at=timezone.now() + timedelta(days=1),
                                 quorum=1, members=board)
    cab_attendance_set(meeting=meeting, present_user_ids={board[0].pk}, actor=release_manager)
    with pytest.raises(Conflict) as exc:
        cab_item_decide(item=meeting.agenda.get(change=change), decision="approve", notes="", actor=release_manager)
    assert exc.value.code == "stage_not_open"


def test_cab_pages(client, release_manager, outsider, board, cab_type, make_change, approver):
    change = make_change(cab_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    list_url = reverse("changes:cab_meetings")
    client.force_login(release_manager)
    start = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(list_url, {"title": "Weekly CAB", "starts_at": start, "duration_minutes": 60, "quorum": 2,
                                      "members": [m.username for m in board]})
    assert response.status_code == 302
    meeting_url = response["Location"]
    body = client.get(meeting_url).content.decode()
    assert change.number in body
    client.post(meeting_url, {"action": "attendance", "present": [board[0].pk, board[1].pk]})
    item = change.cab_items.get()
    client.post(meeting_url, {"action": "decide", "item": item.pk, "decision": "reject", "notes": "Too risky"})
    change.refresh_from_db()
    assert change.state == "rejected"
    client.logout()
    assert client.get(meeting_url).status_code == 302
    client.force_login(outsider)
    assert client.get(meeting_url).status_code == 403
    assert client.post(meeting_url, {"action": "minutes", "minutes": "x"}).status_code == 403
