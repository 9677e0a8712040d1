"""Requester and implementer never approve; one decision per person; pipelines never approve;
people outside the stage cannot decide."""

from __future__ import annotations

import pytest

from apps.changes.models import Approval
from apps.changes.services import approval_record
from releaseportal.errors import Conflict, NotAllowed


def test_it_rejects_self_approval(make_type, make_change, requester):
    change_type = make_type("team", [{"name": "Team", "team": True}])
    change = make_change(change_type, submit=True)
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=requester, decision="approve")
    assert exc.value.code == "self_approval_forbidden"
    assert not Approval.objects.exists()


def test_the_implementer_cannot_approve(make_type, make_change, implementer):
    change_type = make_type("team", [{"name": "Team", "team": True}])
    change = make_change(change_type, submit=True, implementer=implementer)
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=implementer, decision="approve")
    assert exc.value.code == "self_approval_forbidden"


def test_one_person_decides_once(make_type, make_change, approver):
    change_type = make_type("q2", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    with pytest.raises(Conflict) as exc:
        approval_record(change=change, approver=approver, decision="approve")
    assert exc.value.code == "already_decided"
    with pytest.raises(Conflict):
        approval_record(change=change, approver=approver, decision="reject", comment="changed my mind")
    assert Approval.objects.count() == 1


def test_pipelines_never_approve(make_type, make_change, service_account):
    from django.contrib.auth.models import Group

    service_account.groups.add(Group.objects.get(name="approver"))
    change = make_change(make_type("g", [{"name": "G", "group": "approver"}]), submit=True)
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=service_account, decision="approve")
    assert exc.value.code == "not_an_approver"


def test_people_outside_the_stage_cannot_decide(simple_type, make_change, outsider, release_manager):
    change = make_change(simple_type, submit=True)
    for who in (outsider, release_manager):
        with pytest.raises(NotAllowed) as exc:
            approval_record(change=change, approver=who, decision="approve")
        assert exc.value.code == "not_an_approver"


def test_a_draft_takes_no_decisions(simple_type, make_change, approver):
    change = make_change(simple_type)
    with pytest.raises(Conflict) as exc:
        approval_record(change=change, approver=approver, decision="approve")
    assert exc.value.code == "not_in_review"


def test_configuration_changes_need_a_peer_even_from_a_pipeline(seeded_types, make_change, service_account, team, person):
    change = make_change(seeded_types["configuration"], submit=True, actor=service_account)
    assert change.requester == service_account
    assert change.state == "in_review"
    with pytest.raises(NotAllowed):
        approval_record(change=change, approver=service_account, decision="approve")
    peer = person("petra", roles=("requester",), team=team)
    approval_record(change=change, approver=peer, decision="approve")
    change.refresh_from_db()
    assert change.state == "approved"


@pytest.mark.parametrize("as_delegate", [False, True])
def test_someone_who_decided_cannot_become_the_implementer(make_type, make_change, approver, person, as_delegate):
    """Segregation of duties in the other direction: the implementer field is not part of what
    approvers approve, so changing it keeps approvals live, and must not hand the change to one of them."""
    from apps.audit.models import AuditEvent
    from apps.changes.services import change_update

    change_type = make_type("q2", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    delegator = person("dora")
    if as_delegate:
        Approval.objects.filter(change=change).update(on_behalf_of=delegator)  # decided as dora's delegate
    chosen = delegator if as_delegate else approver
    events = AuditEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        change_update(change=change, actor=change.requester, implementer=chosen)
    assert exc.value.code == "segregation_of_duties" and "implementer" in exc.value.fields
    change.refresh_from_db()
    assert change.implementer_id != chosen.pk
    assert AuditEvent.objects.count() == events
