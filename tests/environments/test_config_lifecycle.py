"""Around the edges: the approval hook fails closed, an emergency change approves its baseline only
on retro-approval, stale observations are flagged by the beat task (audited as the task) and
closed by the next observation, the policy is audited, and two observations at once never
duplicate a finding (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.environments import config_services
from apps.environments.config_tasks import flag_stale_observations
from apps.environments.models import ConfigBaseline, ConfigObservation, DriftFinding, EnvironmentConfigPolicy
from tests.concurrency import race

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import observe, put_baseline, setting

BASELINE = {"POOL_SIZE": setting("20", must_match=True)}


def test_a_failing_approval_hook_rolls_the_approval_back(db, rita_api, config_change, approve):
    from apps.changes.approval_hooks import register_approval_hook, unregister_approval_hook
    from apps.changes.models import Approval, ChangeRequest

    change = config_change()
    put_baseline(rita_api, change, BASELINE)

    def broken(*, change, actor):
        raise RuntimeError("the environments app is broken")

    register_approval_hook("zz.broken", broken)
    try:
        with pytest.raises(RuntimeError):
            approve(change)
    finally:
        unregister_approval_hook("zz.broken")
    assert ChangeRequest.objects.get(pk=change.pk).state == "in_review"
    assert not Approval.objects.filter(change=change).exists()
    assert ConfigBaseline.objects.get().status == "proposed"


def test_an_emergency_override_alone_approves_no_baseline(db, rita_api, requester, service, environments,
                                                          release_manager, cab_member):
    """The baseline of an emergency change waits for the retrospective CAB approval."""
    import importlib

    from django.apps import apps as django_apps

    from apps.change_types.models import ChangeType
    from apps.changes.services import approval_record, change_create, change_submit, emergency_override_grant

    importlib.import_module("apps.change_types.migrations.0003_seed_change_types").seed_change_types(django_apps)
    start = timezone.now() + timedelta(hours=1)
    change = change_create(actor=requester, title="Hotfix the pool", change_type=ChangeType.objects.get(
                               slug="emergency"), service=service, environment=environments["staging"],
                           planned_start=start, planned_end=start + timedelta(hours=1), rollback_plan="Restore",
                           rollback_criteria={"error_rate_pct": 5})
    assert put_baseline(rita_api, change, BASELINE).status_code == 200
    change = change_submit(change=change, actor=requester)
    emergency_override_grant(change=change, actor=release_manager, reason="Payments down")
    assert ConfigBaseline.objects.get().status == "proposed"
    approval_record(change=change, approver=cab_member, decision="approve")
    baseline = ConfigBaseline.objects.get()
    assert baseline.status == "approved" and baseline.approved_by == cab_member


@pytest.fixture
def watched(db, rita_api, config_change, approve, environments, clock):
    clock("2026-11-10 09:00")
    change = config_change()
    put_baseline(rita_api, change, BASELINE)
    approve(change)
    return config_services.policy_set(environment=environments["staging"], actor=change.requester,
                                      max_hours_without_observation=24, parity_precision="patch")


def test_the_policy_is_audited(watched):
    assert watched.parity_precision == "patch"
    event = AuditEvent.objects.get(action="config.policy.set")
    assert event.details["max_hours_without_observation"] == 24


def test_the_beat_task_flags_a_service_never_observed_and_the_next_observation_closes_it(
        watched, bot_api, clock, django_capture_on_commit_callbacks):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        assert flag_stale_observations() == 1
    stale = DriftFinding.objects.get(kind="stale")
    assert stale.key == "" and stale.observed == "never observed" and not stale.must_match
    event = AuditEvent.objects.get(action="config.observation.stale_flagged")
    assert event.actor_label == "task:environments.flag_stale_observations"
    assert any("no recent observation" in m.body for m in mail.outbox)
    assert flag_stale_observations() == 0  # idempotent
    observe(bot_api, {"POOL_SIZE": "20"})
    stale.refresh_from_db()
    assert stale.status == "resolved" and stale.resolution == "observed"


def test_a_recent_observation_is_not_stale_and_an_old_one_is(watched, bot_api, clock):
    observe(bot_api, {"POOL_SIZE": "20"}, at=timezone.now() - timedelta(hours=2))
    assert flag_stale_observations() == 0
    clock("2026-11-11 12:00")
    assert flag_stale_observations() == 1
    assert DriftFinding.objects.get(kind="stale").observed.startswith("last observed 2026-11-10")


def test_an_environment_without_a_maximum_is_never_stale(watched, environments):
    EnvironmentConfigPolicy.objects.filter(pk=watched.pk).update(max_hours_without_observation=None)
    assert flag_stale_observations() == 0


def test_the_beat_schedule_names_the_task():
    from releaseportal.celery import collect_beat_schedule

    entry = collect_beat_schedule()["environments-flag-stale-observations"]
    assert entry["task"] == "apps.environments.config_tasks.flag_stale_observations"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_observations_at_once_open_one_finding(rita_api, bot_api, config_change, approve, service, environments,
                                                   service_account):
    change = config_change()
    put_baseline(rita_api, change, BASELINE)
    approve(change)
    now = timezone.now()

    def work(i):
        return config_services.observation_record(
            service=service, environment=environments["staging"], source="agent",
            observed_at=now + timedelta(seconds=i), settings={"POOL_SIZE": "50", "EXTRA": str(i)},
            actor=service_account).pk

    race(8, work)
    assert ConfigObservation.objects.count() == 8
    assert DriftFinding.objects.filter(key="POOL_SIZE", status="open").count() == 1
    assert DriftFinding.objects.filter(key="EXTRA", status="open").count() == 1
    assert DriftFinding.objects.get(key="EXTRA").observed == "7"  # the latest observation's value wins
