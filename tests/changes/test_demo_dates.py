"""The change demo agrees with itself (issue #16): nothing it records as done is stamped after
the seed time, and the history of a year-old change is dated when it happened and names who
did it (not "system created" today)."""

from __future__ import annotations

import io

import pytest

from apps.changes.models import Approval, ChangeRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(seeded_types, roles_ready, clock):
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext
    from apps.changes import demo as changes_demo

    # Late December: planned changes run into next month, where the demo used to file them.
    clock("2026-12-20 09:00")
    ctx = DemoContext(seed=7, stdout=io.StringIO())
    for module in (accounts_demo, catalog_demo, changes_demo):
        module.seed(ctx)
    return ctx.now


def test_no_submission_approval_or_decision_is_after_the_seed_time(seeded):
    assert ChangeRequest.objects.filter(planned_start__gt=seeded).exists()  # the demo still plans ahead
    for field in ("created_at", "submitted_at", "approved_at", "implementation_started_at", "implemented_at",
                  "closed_at"):
        late = list(ChangeRequest.objects.filter(**{f"{field}__gt": seeded}).values_list("number", field))
        assert late == [], f"{field} after the seed time: {late[:5]}"
    assert list(Approval.objects.filter(decided_at__gt=seeded).values_list("change__number", "decided_at")) == []
    for change in ChangeRequest.objects.exclude(submitted_at=None):
        assert change.created_at <= change.submitted_at, change.number


def test_history_is_dated_when_it_happened_and_names_who_acted(seeded):
    old = ChangeRequest.objects.filter(state="closed").select_related("requester").order_by("created_at").first()
    created = old.history.filter(history_type="+").get()
    assert created.history_date == old.created_at
    assert (seeded - created.history_date).days > 200
    assert created.history_user_id == old.requester_id
    assert created.history_actor_kind != "system" and created.history_actor_label == old.requester.username
    assert created.number == old.number  # not the placeholder used while bulk-inserting
    approval = Approval.objects.select_related("approver").order_by("decided_at").first()
    row = approval.history.get()
    assert (row.history_date, row.history_user_id) == (approval.decided_at, approval.approver_id)
    history = ChangeRequest.history.model
    assert not history.objects.filter(history_date__gt=seeded).exists()
    created_at = dict(ChangeRequest.objects.values_list("pk", "created_at"))
    undated = [(row.id, row.history_date) for row in history.objects.filter(history_type="+")
               if row.history_date != created_at[row.id]]
    assert undated == []


def test_people_joined_their_teams_long_before_the_demo_year(seeded):
    from apps.accounts.models import TeamMembership, User

    alice = User.objects.get(username="alice")
    assert (seeded - alice.date_joined).days >= 365
    assert alice.get_full_name() == "Alice Nguyen"
    rows = TeamMembership.history.model.objects.filter(history_type="+")
    assert rows.exists() and all((seeded - row.history_date).days >= 365 for row in rows)
    assert all((seeded - m.joined_at).days >= 365 for m in TeamMembership.objects.all())
