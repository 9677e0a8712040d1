"""A Normal, critical-risk production change with no approvals cannot be pushed forward on any
path, and the gate denies it with `change_not_approved` whatever its state column says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.changes.models import ChangeRequest, ChangeState

FORWARD = {ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTING, ChangeState.COMPLETED}
TARGETS = list(ChangeState.values)
# The change's requester (its implementer has the same rights) and a release manager.
MOVERS = ["requester", "release_manager"]


@pytest.fixture
def unapproved(world, db):
    """CHG in `draft` (or, with `.submit()`, in review): Normal type, payments-api in prod, every
    risk question answered yes (critical), and not a single approval."""
    from apps.change_types.models import ChangeType
    from apps.changes import services

    start = world.now + timedelta(days=2)
    change = services.change_create(
        actor=world.people["requester"], title="Migrate the ledger", change_type=ChangeType.objects.get(slug="normal"),
        service=world.service, environment=world.envs["prod"], planned_start=start, planned_end=start + timedelta(hours=1),
        rollback_plan="Restore the snapshot", rollback_criteria={"error_rate_pct": 5, "window_minutes": 5},
        implementer=world.people["implementer"], risk_answers={key: True for key in (
            "database_change", "customer_downtime", "rollback_untested", "security_controls", "new_technology",
            "multi_service")})
    change.refresh_from_db()
    assert change.risk_level == "critical"
    assert not change.approvals.exists()
    return change


def _submit(world, change):
    from apps.changes import services

    services.change_submit(change=change, actor=world.people["requester"])
    change.refresh_from_db()
    assert change.state == ChangeState.IN_REVIEW


def _state(change) -> str:
    return ChangeRequest.objects.values_list("state", flat=True).get(pk=change.pk)


def assert_gate_denies(world, change):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['pipeline']}")
    response = client.post(reverse("api-gate-check"), {
        "service": world.service.slug, "environment": "prod", "artifact": world.artifact.digest,
        "change": change.number}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    codes = [r["code"] for r in body["reasons"]]
    assert body["decision"] == "deny" and "change_not_approved" in codes, (
        f"{change.number} in state {_state(change)} with no approvals: gate said {body['decision']} {codes}")


def _move_html(world, persona, change, target):
    client = Client()
    client.force_login(world.people[persona])
    return client.post(reverse("changes:move", kwargs={"ref": change.number}), {"to_state": target, "reason": "go"})


def _move_api(world, persona, change, target):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[persona]}")
    return client.post(reverse("api-change-transition", kwargs={"ref": change.number}), {"to_state": target},
                       format="json")


MOVES = {"html": _move_html, "api": _move_api}


@pytest.mark.parametrize("start", ["draft", "in_review"])
@pytest.mark.parametrize("surface", sorted(MOVES))
@pytest.mark.parametrize("persona", MOVERS)
@pytest.mark.parametrize("target", TARGETS)
def test_a_manual_move_never_takes_an_unapproved_change_forward(world, unapproved, start, surface, persona, target):
    if start == "in_review":
        _submit(world, unapproved)
    MOVES[surface](world, persona, unapproved, target)
    assert _state(unapproved) not in FORWARD, f"{persona} moved it {start} → {_state(unapproved)} over {surface}"
    assert_gate_denies(world, unapproved)


def _submit_html(world, persona, change):
    client = Client()
    client.force_login(world.people[persona])
    return client.post(reverse("changes:submit", kwargs={"ref": change.number}))


def _submit_api(world, persona, change):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[persona]}")
    return client.post(reverse("api-change-submit", kwargs={"ref": change.number}), {}, format="json")


SUBMITS = {"html": _submit_html, "api": _submit_api}
DEAD_ENDS = {ChangeState.CANCELLED, ChangeState.CLOSED, ChangeState.REJECTED}


@pytest.mark.parametrize("surface", sorted(MOVES))
@pytest.mark.parametrize("persona", MOVERS)
def test_no_sequence_of_moves_reaches_production_without_approval(world, unapproved, surface, persona):
    """From every state reached so far, try every move and the submit (review → draft → ...),
    breadth first, until no new state appears. Dead ends (cancelled, closed, rejected) are tried
    one by one by the test above; here they would end the walk early."""
    reached = {_state(unapproved)}
    frontier = [_state(unapproved)]
    while frontier:
        origin = frontier.pop(0)
        for action in [*TARGETS, "submit"]:
            if action in DEAD_ENDS:
                continue
            ChangeRequest.objects.filter(pk=unapproved.pk).update(state=origin)
            if action == "submit":
                SUBMITS[surface](world, persona, unapproved)
            else:
                MOVES[surface](world, persona, unapproved, action)
            state = _state(unapproved)
            assert state not in FORWARD, (
                f"{persona} took it {origin} → {state} ({action}) over {surface}; reached so far {sorted(reached)}")
            if state not in reached:
                reached.add(state)
                frontier.append(state)
    ChangeRequest.objects.filter(pk=unapproved.pk).update(state=ChangeState.IN_REVIEW)
    assert_gate_denies(world, unapproved)


@pytest.mark.parametrize("start", ["draft", "in_review"])
def test_the_gate_denies_an_unapproved_change(world, unapproved, start):
    if start == "in_review":
        _submit(world, unapproved)
    assert_gate_denies(world, unapproved)


@pytest.mark.parametrize("start", ["draft", "in_review"])
@pytest.mark.parametrize("status", ["started", "succeeded"])
def test_a_deployment_does_not_carry_an_unapproved_change_forward(world, unapproved, start, status):
    """The deployment happened, so it is recorded (flagged unauthorised, DESIGN.md invariant 4);
    the change it names stays where it was."""
    from apps.delivery.models import Deployment

    if start == "in_review":
        _submit(world, unapproved)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens['pipeline']}")
    response = client.post(reverse("api-deployments"), {
        "service": world.service.slug, "environment": "prod", "artifact": world.artifact.digest,
        "change": unapproved.number, "status": status}, format="json")
    assert response.status_code == 201, response.content
    assert Deployment.objects.get(pk=response.json()["id"]).is_unauthorized
    assert _state(unapproved) not in FORWARD
    assert_gate_denies(world, unapproved)


@pytest.mark.parametrize("forged", [ChangeState.APPROVED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTING])
def test_the_gate_decides_on_approvals_not_on_the_state_column(world, unapproved, forged):
    """Someone with database access (or a bug) writes the state directly: still no approvals."""
    _submit(world, unapproved)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {ChangeRequest._meta.db_table} SET state = %s WHERE id = %s",  # noqa: S608
                       [forged, unapproved.pk])
    assert _state(unapproved) == forged
    assert_gate_denies(world, unapproved)
