"""Rollback runbooks: overdue when no passing test since the start of the last calendar quarter."""

from datetime import date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.incidents.models import Runbook
from apps.incidents.runbooks import (
    is_overdue,
    overdue_cutoff,
    previous_quarter_start,
    runbook_create,
    runbook_step_add,
    runbook_test_record,
    runbooks_list,
)
from apps.incidents.tasks import remind_overdue_runbooks

pytestmark = pytest.mark.django_db


def _at(y, m, d, hh=0, mm=0):
    return timezone.make_aware(datetime(y, m, d, hh, mm))


@pytest.mark.parametrize(("today", "start"), [
    (date(2027, 1, 1), date(2026, 10, 1)),
    (date(2026, 12, 31), date(2026, 7, 1)),
    (date(2027, 3, 31), date(2026, 10, 1)),
    (date(2027, 4, 1), date(2027, 1, 1)),
    (date(2026, 2, 15), date(2025, 10, 1)),
])
def test_the_previous_quarter_starts_where_expected(today, start):
    assert previous_quarter_start(today) == start


@pytest.fixture
def runbook(service, requester):
    return runbook_create(service=service, owner=requester, actor=requester)


def test_a_runbook_never_tested_is_overdue(runbook):
    assert is_overdue(runbook, today=date(2026, 11, 26))


def test_a_test_on_the_first_day_of_the_last_quarter_counts_and_one_the_day_before_does_not(runbook):
    runbook.last_tested_at = _at(2026, 10, 1, 0, 0)
    assert not is_overdue(runbook, today=date(2027, 1, 1))
    assert not is_overdue(runbook, today=date(2027, 3, 31))
    assert is_overdue(runbook, today=date(2027, 4, 1))
    runbook.last_tested_at = _at(2026, 9, 30, 23, 59)
    assert is_overdue(runbook, today=date(2027, 1, 1))
    assert not is_overdue(runbook, today=date(2026, 12, 31))


def test_only_passing_tests_move_the_last_tested_date(runbook, requester):
    runbook_test_record(runbook=runbook, outcome="failed", actor=requester, tested_at=timezone.now() - timedelta(days=1))
    runbook.refresh_from_db()
    assert runbook.last_tested_at is None and is_overdue(runbook)
    when = timezone.now() - timedelta(hours=1)
    runbook_test_record(runbook=runbook, outcome="passed", actor=requester, tested_at=when)
    runbook.refresh_from_db()
    assert runbook.last_tested_at == when and not is_overdue(runbook)
    # an older passing test recorded later does not move it back
    runbook_test_record(runbook=runbook, outcome="passed", actor=requester, tested_at=when - timedelta(days=30))
    runbook.refresh_from_db()
    assert runbook.last_tested_at == when


def test_the_overdue_filter_matches_the_rule(runbook, requester, team):
    from tests.factories import ServiceFactory

    other = runbook_create(service=ServiceFactory(slug="ledger", owner_team=team), owner=requester, actor=requester)
    Runbook.objects.filter(pk=other.pk).update(last_tested_at=overdue_cutoff())
    assert list(runbooks_list(overdue=True)) == [runbook]


def test_steps_are_kept_in_order_and_can_be_inserted(runbook, requester):
    runbook_step_add(runbook=runbook, area="code", instruction="Redeploy previous image", actor=requester)
    runbook_step_add(runbook=runbook, area="schema", instruction="Run down migration", actor=requester)
    runbook_step_add(runbook=runbook, area="configuration", instruction="Restore flag", actor=requester, position=2)
    assert list(runbook.steps.values_list("position", "area")) == [(1, "code"), (2, "configuration"), (3, "schema")]


def test_the_owner_of_an_overdue_runbook_is_reminded_once_per_interval(runbook, requester):
    assert remind_overdue_runbooks() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [requester.email]
    assert "overdue" in mail.outbox[0].subject
    assert remind_overdue_runbooks() == 0
    assert len(mail.outbox) == 1


def test_a_tested_runbook_gets_no_reminder(runbook, requester):
    runbook_test_record(runbook=runbook, outcome="passed", actor=requester)
    assert remind_overdue_runbooks() == 0 and mail.outbox == []


def test_the_beat_schedule_names_the_reminder_task():
    from apps.incidents.schedules import BEAT
    from apps.incidents.tasks import remind_overdue_runbooks as task

    assert BEAT["incidents-remind-overdue-runbooks"]["task"] == task.name
