"""An approver delegates to a named colleague for a period; decisions name both; expiry ends it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.changes.models import Delegation
from apps.changes.selectors import cab_queue_for
from apps.changes.services import approval_record, delegation_create, delegation_revoke
from releaseportal.errors import Conflict, InvalidInput, NotAllowed


@pytest.fixture
def dba_type(make_type):
    return make_type("dbaonly", [{"name": "DBA", "group": "dba"}])


def test_a_delegate_decides_and_both_are_named(dba_type, make_change, person):
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    change = make_change(dba_type, submit=True)
    queue, counts = cab_queue_for(sam)
    assert list(queue) == [change] and counts["delegated"] == 1
    approval = approval_record(change=change, approver=sam, decision="approve", comment="for Dora")
    assert approval.approver == sam and approval.on_behalf_of == dora
    change.refresh_from_db()
    assert change.state == "approved"


def test_an_expired_delegation_gives_nothing(dba_type, make_change, person):
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    start = timezone.now() - timedelta(days=3)
    delegation_create(delegator=dora, delegate=sam, starts_at=start, ends_at=timezone.now() - timedelta(minutes=1),
                      actor=dora)
    change = make_change(dba_type, submit=True)
    assert list(cab_queue_for(sam)[0]) == []
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=sam, decision="approve")
    assert exc.value.code == "not_an_approver"


def test_a_revoked_delegation_gives_nothing(dba_type, make_change, person):
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation = delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=1), actor=dora)
    delegation_revoke(delegation=delegation, actor=dora)
    change = make_change(dba_type, submit=True)
    with pytest.raises(NotAllowed):
        approval_record(change=change, approver=sam, decision="approve")


def test_delegator_and_delegate_count_once(make_type, make_change, person):
    change_type = make_type("dba2", [{"name": "DBA", "group": "dba", "rule": "quorum", "quorum": 2}])
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=1), actor=dora)
    change = make_change(change_type, submit=True)
    approval_record(change=change, approver=dora, decision="approve")
    with pytest.raises(Conflict) as exc:
        approval_record(change=change, approver=sam, decision="approve")
    assert exc.value.code == "already_decided" and "dora has already decided" in exc.value.message


def test_a_delegate_who_requested_the_change_cannot_approve_it(dba_type, make_change, person, requester):
    from django.contrib.auth.models import Group

    requester.groups.add(Group.objects.get(name="approver"))  # eligible as a delegate, still the requester
    dora = person("dora", roles=("dba",))
    delegation_create(delegator=dora, delegate=requester, ends_at=timezone.now() + timedelta(days=1), actor=dora)
    change = make_change(dba_type, submit=True)
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=requester, decision="approve")
    assert exc.value.code == "self_approval_forbidden"


def test_delegation_is_validated(person):
    dora = person("dora", roles=("dba",))
    with pytest.raises(InvalidInput):
        delegation_create(delegator=dora, delegate=dora, ends_at=timezone.now() + timedelta(days=1), actor=dora)
    sam = person("sam")
    with pytest.raises(InvalidInput):
        delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() - timedelta(days=1), actor=dora)
    assert not Delegation.objects.exists()
