"""Segregation of duties on every path: the requester, the implementer, the emergency override's
authoriser and a delegator (through their delegate) never approve their own work, whether the
decision comes through the service, the HTML page, the API or a CAB meeting; approvers in one
change are distinct people."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.changes.cab import cab_attendance_set, cab_item_decide, cab_meeting_create
from apps.changes.models import Approval, EmergencyOverride
from apps.changes.services import approval_record, delegation_create, emergency_override_grant
from releaseportal.errors import Conflict, NotAllowed

ROLES = ["requester", "implementer", "override_authoriser", "delegate_of_requester"]


@pytest.fixture
def own_work(seeded_types, make_type, make_change, requester, person):
    """own_work(role) -> (change, who): a change waiting for a decision `who` must not make, `who`
    otherwise able to decide in its open stage (approver and CAB member)."""

    def make(role):
        judge = person("jude", roles=("approver", "cab_member", "release_manager"))
        if role == "requester":
            return make_change(make_type("g", [{"name": "G", "group": "approver"}]), submit=True, actor=judge), judge
        if role == "implementer":
            return make_change(make_type("g", [{"name": "G", "group": "approver"}]), submit=True,
                               implementer=judge), judge
        if role == "override_authoriser":
            change = make_change(seeded_types["emergency"], submit=True, title="Hotfix the outage")
            emergency_override_grant(change=change, actor=judge, reason="Payments are down")
            change.refresh_from_db()
            assert change.state == "implementing"
            return change, judge
        # A delegate deciding for the change's own requester: the requester would approve her own work.
        dora = person("dora", roles=("dba", "requester"))
        delegation_create(delegator=dora, delegate=judge, ends_at=timezone.now() + timedelta(days=2), actor=dora)
        change = make_change(make_type("dba", [{"name": "DBA", "group": "dba"}]), submit=True, actor=dora)
        return change, judge

    return make


@pytest.mark.parametrize("role", ROLES)
def test_it_refuses_self_approval_in_the_service(own_work, role):
    change, who = own_work(role)
    events = AuditEvent.objects.count()
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=who, decision="approve")
    assert exc.value.code == "self_approval_forbidden"
    assert "segregation of duties" in exc.value.message
    assert not Approval.objects.filter(change=change).exists() and AuditEvent.objects.count() == events


@pytest.mark.parametrize("role", ROLES)
def test_it_refuses_self_approval_on_the_page_and_offers_no_button(own_work, login, role):
    change, who = own_work(role)
    client = login(who)
    detail = client.get(reverse("changes:detail", args=[change.number]))
    assert detail.context["can_approve"] is False and "segregation of duties" in detail.context["refusal"]
    response = client.post(reverse("changes:decide", args=[change.number]), {"decision": "approve"})
    assert response.status_code == 403 and "segregation of duties" in response.content.decode()
    response = client.post(reverse("changes:decide", args=[change.number]), {"decision": "approve"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert not Approval.objects.filter(change=change).exists()


@pytest.mark.parametrize("role", ROLES)
def test_it_refuses_self_approval_over_the_api(own_work, api_client_for, role):
    change, who = own_work(role)
    response = api_client_for(who).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"},
                                        format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "self_approval_forbidden"
    assert not Approval.objects.filter(change=change).exists()


@pytest.fixture
def held_emergency(seeded_types, make_change, person):
    """An emergency change on an override authorised by hedy (release manager and CAB member)."""
    hedy = person("hedy", roles=("release_manager", "cab_member"))
    change = make_change(seeded_types["emergency"], submit=True, title="Hotfix the outage")
    override = emergency_override_grant(change=change, actor=hedy, reason="Payments are down")
    return change, hedy, override


def test_the_override_authoriser_cannot_give_the_retrospective_approval(held_emergency, cab_member):
    change, hedy, override = held_emergency
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=hedy, decision="approve", comment="Retro OK")
    assert exc.value.code == "self_approval_forbidden" and "emergency override" in exc.value.message
    override.refresh_from_db()
    assert override.retro_approved_at is None
    approval_record(change=change, approver=cab_member, decision="approve", comment="Retro OK")
    override.refresh_from_db()
    assert override.retro_approved_at is not None


def test_the_override_authoriser_cannot_record_the_retrospective_cab_decision(held_emergency, cab_member, person):
    change, hedy, override = held_emergency
    board = [hedy, cab_member, person("cab2", roles=("cab_member",))]
    meeting = cab_meeting_create(actor=hedy, title="Retro CAB", starts_at=timezone.now() + timedelta(hours=1),
                                 quorum=2, members=board)
    cab_attendance_set(meeting=meeting, present_user_ids={m.pk for m in board}, actor=hedy)
    item = meeting.agenda.get(change=change)
    with pytest.raises(NotAllowed) as exc:
        cab_item_decide(item=item, decision="approve", notes="", actor=hedy)
    assert exc.value.code == "self_approval_forbidden"
    item.refresh_from_db()
    assert item.decision == "" and not Approval.objects.filter(change=change).exists()
    cab_item_decide(item=item, decision="approve", notes="", actor=cab_member)
    assert EmergencyOverride.objects.get(pk=override.pk).retro_approved_at is not None


def test_approvers_in_one_change_are_distinct_people_across_stages_and_cab(make_type, make_change, person,
                                                                         release_manager):
    """Someone named in two stages decides once: a second stage, or the CAB's decision, needs someone else."""
    change_type = make_type("two", [{"name": "Tech", "group": "approver"},
                                    {"name": "CAB", "group": "cab_member", "is_cab": True, "applies_when": "cab"}],
                            cab_required="always")
    both = person("bo", roles=("approver", "cab_member"))
    others = [person("cab2", roles=("cab_member",)), person("cab3", roles=("cab_member",))]
    change = make_change(change_type, submit=True)
    approval_record(change=change, approver=both, decision="approve")
    with pytest.raises(Conflict) as exc:
        approval_record(change=change, approver=both, decision="approve")
    assert exc.value.code == "already_decided"
    meeting = cab_meeting_create(actor=release_manager, title="CAB", starts_at=timezone.now() + timedelta(hours=1),
                                 quorum=2, members=[both, *others])
    cab_attendance_set(meeting=meeting, present_user_ids={both.pk, others[0].pk}, actor=release_manager)
    with pytest.raises(Conflict) as exc:
        cab_item_decide(item=meeting.agenda.get(change=change), decision="approve", notes="", actor=both)
    assert exc.value.code == "already_decided"
    assert Approval.objects.filter(change=change).count() == 1


def test_the_cab_page_offers_the_override_authoriser_no_decision_buttons(held_emergency, cab_member, person, login):
    change, hedy, _ = held_emergency
    meeting = cab_meeting_create(actor=hedy, title="Retro CAB", starts_at=timezone.now() + timedelta(hours=1),
                                 quorum=1, members=[hedy, cab_member])
    approve = 'name="decision" value="approve"'
    body = login(hedy).get(reverse("changes:cab_meeting", args=[meeting.pk])).content.decode()
    assert approve not in body and "authorised the emergency override of this change" in body
    body = login(cab_member).get(reverse("changes:cab_meeting", args=[meeting.pk])).content.decode()
    assert approve in body and change.number in body
