"""16 threads deciding on one change at once on PostgreSQL: every vote counted exactly once, and
the move to `approved` fires exactly once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.changes.models import Approval, ChangeRequest
from apps.changes.services import approval_record
from releaseportal.errors import PortalError

THREADS = 16


def _race(change, people):
    barrier = threading.Barrier(len(people))
    outcomes: dict[str, str] = {}

    def decide(person):
        try:
            barrier.wait(timeout=30)
            approval_record(change=ChangeRequest.objects.get(pk=change.pk), approver=person, decision="approve")
            outcomes[person.username] = "ok"
        except PortalError as exc:
            outcomes[person.username] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_simultaneous_votes_exact_tally_single_transition(make_type, make_change, person, roles_ready):
    change_type = make_type("board16", [{"name": "Board", "group": "approver", "rule": "quorum", "quorum": THREADS}])
    people = [person(f"voter{i:02d}") for i in range(THREADS)]
    change = make_change(change_type, submit=True)
    outcomes = _race(change, people)
    assert sorted(outcomes.values()) == ["ok"] * THREADS
    assert Approval.objects.filter(change=change, voided_at__isnull=True).count() == THREADS
    change.refresh_from_db()
    assert change.state == "approved"
    assert AuditEvent.objects.filter(action="change.approved", object_id=str(change.pk)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_votes_after_the_quorum_are_refused_not_double_counted(make_type, make_change, person, roles_ready):
    change_type = make_type("board10", [{"name": "Board", "group": "approver", "rule": "quorum", "quorum": 10}])
    people = [person(f"voter{i:02d}") for i in range(THREADS)]
    change = make_change(change_type, submit=True)
    outcomes = _race(change, people)
    assert sorted(outcomes.values()).count("ok") == 10
    assert sorted(outcomes.values()).count("not_in_review") == THREADS - 10
    assert Approval.objects.filter(change=change).count() == 10
    assert AuditEvent.objects.filter(action="change.approved", object_id=str(change.pk)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_person_racing_themself_decides_once(simple_type, make_type, make_change, approver):
    change_type = make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    outcomes = []

    def decide():
        try:
            approval_record(change=ChangeRequest.objects.get(pk=change.pk), approver=approver, decision="approve")
            outcomes.append("ok")
        except PortalError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["already_decided"] * 3 + ["ok"]
    assert Approval.objects.filter(change=change).count() == 1
