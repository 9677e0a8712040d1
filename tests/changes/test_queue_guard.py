"""The queue lists exactly what the decision itself accepts: for every change that names a person,
listed ⇔ services.decision_refusals finds nothing against approving it (the one check the decide
route, the change page and bulk approval make). Privilege revoked, a delegate without the
privilege, a freeze, an open question, segregation of duties."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from apps.changes.information import information_request_ask
from apps.changes.models import ChangeRequest, Freeze
from apps.changes.selectors import cab_queue_for
from apps.changes.services import decision_refusals, delegation_create

PERM = "catalog.approve_service_changes"


@pytest.fixture
def matrix(make_type, simple_type, make_change, approver, person, environments, service):
    start = timezone.now() + timedelta(days=3)
    hedy = person("hedy", roles=("approver",))
    dba = make_type("dbaonly", [{"name": "DBA", "group": "dba"}])
    dora = person("dora", roles=("dba",))
    delegation_create(delegator=dora, delegate=approver, ends_at=timezone.now() + timedelta(days=5), actor=dora)
    assign_perm(PERM, approver, service)
    changes = {
        "decidable": make_change(simple_type, submit=True, planned_start=start),
        "prod_privileged": make_change(simple_type, submit=True, environment=environments["prod"],
                                       planned_start=start + timedelta(hours=1)),
        "frozen": make_change(simple_type, submit=True, planned_start=start + timedelta(days=10)),
        "questioned": make_change(simple_type, submit=True, planned_start=start + timedelta(hours=2)),
        "own": make_change(simple_type, submit=True, actor=approver, planned_start=start + timedelta(hours=3)),
        "delegated_prod": make_change(dba, submit=True, environment=environments["prod"],
                                      planned_start=start + timedelta(hours=4)),
    }
    assign_perm(PERM, dora, service)  # dora may decide production; whether adam may for her is the question
    Freeze.objects.create(name="Year end", reason="Books", starts_at=start + timedelta(days=9),
                          ends_at=start + timedelta(days=12))
    information_request_ask(change=changes["questioned"], actor=hedy, question="Why now?")
    return changes


def agrees(user, changes: dict) -> dict[str, bool]:
    listed = {c.number for c in cab_queue_for(user)[0]}
    verdict = {}
    for name, change in changes.items():
        fresh = ChangeRequest.objects.select_related("change_type", "service", "environment").get(pk=change.pk)
        refusals, _ = decision_refusals(change=fresh, user=user)
        assert (change.number in listed) == (refusals["approve"] is None), (name, refusals["approve"])
        verdict[name] = change.number in listed
    return verdict


def test_the_queue_and_the_decision_agree_on_every_kind_of_change(matrix, approver):
    assert agrees(approver, matrix) == {"decidable": True, "prod_privileged": True, "frozen": False,
                                        "questioned": False, "own": False, "delegated_prod": True}


def test_a_revoked_privilege_takes_production_changes_out_of_the_queue(matrix, approver, service):
    remove_perm(PERM, approver, service)
    verdict = agrees(approver, matrix)
    # Revoked: neither his own production change nor the one he decides for dora.
    assert verdict["prod_privileged"] is False and verdict["delegated_prod"] is False
    assert verdict["decidable"] is True


def test_a_delegate_needs_the_privilege_the_delegator_holds(matrix, approver, service, person):
    dora = type(approver).objects.get(username="dora")
    remove_perm(PERM, dora, service)
    assert agrees(approver, matrix)["delegated_prod"] is False
