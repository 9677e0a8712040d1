"""A production run that deletes or replaces resources without an approved change for that
environment is recorded, flagged unauthorised (like a deployment without a gate allow), audited,
and the release managers and the reporting team are told. Plans (status planned) only propose
and are not judged; a failed apply is (it may have destroyed part of what it planned)."""

from __future__ import annotations

import pytest
from django.core import mail

from apps.audit.models import AuditEvent
from apps.environments.models import Provision

from .conftest import real_plan, with_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def destructive():
    return with_actions(real_plan("basic"), {"null_resource.bar": ["delete"], "null_resource.foo": ["delete", "create"]})


@pytest.fixture
def told(release_manager, team):
    release_manager.email = "remy@example.com"
    release_manager.save()
    team.email = "payments@example.com"
    team.save()


def test_a_destructive_production_apply_without_a_change_is_flagged(post_provision, environments, destructive,
                                                                   told, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        body = post_provision(env="prod", plan=destructive).json()
    assert body["is_unauthorized"] is True
    event = AuditEvent.objects.get(action="environments.provision_recorded")
    assert event.details["unauthorized"] is True and event.details["summary"]["delete"] == 1
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {"remy@example.com", "payments@example.com"}
    assert "Unauthorised provisioning in Production" in mail.outbox[0].subject
    assert f"/environments/provisions/{body['id']}/" in mail.outbox[0].body


def test_an_approved_change_for_production_authorises_it(post_provision, environments, destructive, make_change, told,
                                                         django_capture_on_commit_callbacks):
    change = make_change(state="scheduled", env="prod")
    with django_capture_on_commit_callbacks(execute=True):
        body = post_provision(env="prod", plan=destructive, change=change.number).json()
    assert body["is_unauthorized"] is False and body["change"] == {"id": change.pk, "number": change.number}
    assert mail.outbox == []


@pytest.mark.parametrize("state, env", [("in_review", "prod"), ("scheduled", "staging")])
def test_an_unapproved_change_or_one_for_another_environment_does_not(post_provision, environments, destructive,
                                                                      make_change, state, env):
    change = make_change(state=state, env=env)
    assert post_provision(env="prod", plan=destructive, change=change.number).json()["is_unauthorized"] is True


def test_a_failed_apply_is_judged_and_a_plan_is_not(post_provision, environments, destructive):
    assert post_provision(env="prod", plan=destructive, status="failed").json()["is_unauthorized"] is True
    assert post_provision(env="prod", plan=destructive, status="planned").json()["is_unauthorized"] is False


def test_creates_and_updates_only_or_another_environment_are_not_flagged(post_provision, environments, destructive):
    assert post_provision(env="prod", plan=real_plan("basic")).json()["is_unauthorized"] is False
    assert post_provision(env="staging", plan=destructive).json()["is_unauthorized"] is False
    assert Provision.objects.filter(is_unauthorized=True).count() == 0


def test_nothing_is_sent_when_the_recording_rolls_back(post_provision, environments, destructive, told,
                                                       monkeypatch, django_capture_on_commit_callbacks):
    from apps.environments import services

    def fail(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(services, "audit_event_record", fail)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        post_provision(env="prod", plan=destructive)
    assert Provision.objects.count() == 0 and mail.outbox == []


def test_an_unknown_change_is_refused(post_provision, environments):
    response = post_provision(env="prod", plan=real_plan("basic"), change="CHG-999999")
    assert response.status_code == 400 and response.json()["error"]["fields"] == {"change": ["unknown"]}
    assert Provision.objects.count() == 0


def test_the_dashboard_lists_unauthorised_runs_in_fixed_queries(client, release_manager, post_provision, environments,
                                                                destructive, rf, django_assert_max_num_queries):
    from apps.environments.dashboard import panels

    post_provision(env="prod", plan=destructive)
    request = rf.get("/")
    request.user = release_manager
    # The app's panels (the release manager's): roles (1), unauthorised runs (2), configuration drift (2).
    with django_assert_max_num_queries(5):
        panel = panels(request)[0]
    assert panel["data"]["count"] == 1
    for _ in range(6):
        post_provision(env="prod", plan=destructive)
    with django_assert_max_num_queries(5):
        assert len(panels(request)[0]["data"]["provisions"]) == 5
    client.force_login(release_manager)
    page = client.get("/").content.decode()
    assert "Unauthorised provisioning runs (30 days)" in page and "7</span> production runs" in page
