"""Delegation only to people who could hold the authority: never an auditor, an executive, a plain
requester, an administrator account or a pipeline; refused by the service naming the field, not
offered by the form; and a delegate acting for someone must still be eligible and hold the
approver privilege on production, as must the person they act for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.changes.models import Approval, Delegation
from apps.changes.services import approval_record, delegation_create
from releaseportal.errors import InvalidInput, NotAllowed

INELIGIBLE = ["auditor", "executive", "requester", "superuser", "service_account", "auditor_and_approver"]


@pytest.fixture
def dora(person):
    return person("dora", roles=("approver", "dba"))


@pytest.fixture
def ineligible(request, auditor, executive, requester, superuser, service_account, person):
    def pick(kind):
        if kind == "auditor_and_approver":
            return person("audie", roles=("auditor", "approver"))
        return {"auditor": auditor, "executive": executive, "requester": requester, "superuser": superuser,
                "service_account": service_account}[kind]

    return pick


def _until():
    return timezone.now() + timedelta(days=3)


@pytest.mark.parametrize("kind", INELIGIBLE)
def test_it_refuses_delegation_to_people_who_cannot_hold_the_authority(dora, ineligible, kind):
    delegate = ineligible(kind)
    with pytest.raises(InvalidInput) as exc:
        delegation_create(delegator=dora, delegate=delegate, ends_at=_until(), actor=dora)
    assert exc.value.status == 400 and exc.value.code == "delegate_not_eligible"
    assert list(exc.value.fields) == ["delegate"]
    assert not Delegation.objects.exists()


@pytest.mark.parametrize("kind", INELIGIBLE)
def test_the_form_does_not_offer_them_and_refuses_a_forged_choice(dora, ineligible, login, person, kind):
    delegate = ineligible(kind)
    colleague = person("cole", roles=("approver",))
    client = login(dora)
    page = client.get(reverse("changes:delegations"))
    offered = {u.username for u in page.context["form"].fields["delegate"].queryset}
    assert colleague.username in offered
    assert delegate.username not in offered and "dora" not in offered
    response = client.post(reverse("changes:delegations"), {"delegate": delegate.username,
                                                            "ends_at": _until().strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 200 and response.context["form"].errors["delegate"]
    assert not Delegation.objects.exists()


def test_a_colleague_with_an_approving_role_is_accepted(dora, login, person):
    cole = person("cole", roles=("cab_member",))
    response = login(dora).post(reverse("changes:delegations"), {"delegate": "cole",
                                                                 "ends_at": _until().strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert Delegation.objects.get().delegate == cole


def test_a_delegate_who_lost_the_approving_role_no_longer_acts(make_type, make_change, dora, person):
    from django.contrib.auth.models import Group

    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=_until(), actor=dora)
    sam.groups.set([Group.objects.get(name="auditor")])
    sam = type(sam).objects.get(pk=sam.pk)  # a fresh request: roles read again
    change = make_change(make_type("dbaonly", [{"name": "DBA", "group": "dba"}]), submit=True)
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=sam, decision="approve")
    assert exc.value.code == "delegate_not_eligible"
    assert not Approval.objects.exists()


def test_on_production_the_delegate_and_the_delegator_both_need_the_approver_privilege(make_type, make_change, dora,
                                                                                      person, service, environments):
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=_until(), actor=dora)
    change = make_change(make_type("dbaonly", [{"name": "DBA", "group": "dba"}]), submit=True,
                         environment=environments["prod"])
    assign_perm("catalog.approve_service_changes", sam, service)  # the delegate holds it, dora does not
    with pytest.raises(NotAllowed) as exc:
        approval_record(change=change, approver=sam, decision="approve")
    assert exc.value.code == "delegate_not_eligible" and "dora does not hold the approver privilege" in exc.value.message
    assign_perm("catalog.approve_service_changes", dora, service)
    approval = approval_record(change=change, approver=sam, decision="approve")
    assert approval.on_behalf_of == dora
