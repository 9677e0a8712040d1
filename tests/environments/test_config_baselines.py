"""Approved configuration baselines: proposed with a change, approved with it (and only with it),
every version kept with who approved it."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.environments.models import ConfigBaseline

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import put_baseline, setting

pytestmark = pytest.mark.django_db

SETTINGS = {
    "DB_URL": setting("jdbc:postgresql://db:5432/payments", must_match=True),
    "DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True, must_match=True),
    "POOL_SIZE": setting("20"),
}


def test_a_proposal_is_pending_until_its_change_is_approved(rita_api, config_change, approve, approver):
    change = config_change()
    response = put_baseline(rita_api, change, SETTINGS)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] is None and body["status"] == "proposed"
    assert body["pending"]["version"] == 1 and body["pending"]["change"] == change.number
    assert body["pending"]["settings"]["DB_PASSWORD"] == {"value": "vault://kv/payments/db#password", "secret": True,
                                                          "must_match": True}
    approve(change)
    body = rita_api.get("/api/v1/config/baselines/payments-api/staging/").json()
    assert body["version"] == 1 and body["status"] == "approved" and body["pending"] is None
    assert body["approved_at"] and body["approved_by"] == approver.username and body["approvers"] == [approver.username]
    assert body["settings"]["POOL_SIZE"]["value"] == "20"
    baseline = ConfigBaseline.objects.get()
    assert AuditEvent.objects.filter(action="config.baseline.approved", object_id=str(baseline.pk)).count() == 1
    approved_row = baseline.history.filter(status="approved").get()
    assert approved_row.history_user == approver


def test_a_second_version_supersedes_the_first_and_history_keeps_both(rita_api, config_change, approve, approver):
    first = config_change()
    put_baseline(rita_api, first, SETTINGS)
    approve(first)
    second = config_change(title="Bigger pool")
    response = put_baseline(rita_api, second, {**SETTINGS, "POOL_SIZE": setting("40")})
    body = response.json()
    assert body["version"] == 1 and body["pending"]["version"] == 2
    approve(second)
    versions = {b.version: b for b in ConfigBaseline.objects.all()}
    assert versions[1].status == "superseded" and versions[1].superseded_at
    assert versions[2].status == "approved" and versions[2].approved_by == approver
    assert versions[1].approved_by == approver and versions[1].change == first  # who approved v1 stays recorded


def test_a_rejected_change_approves_nothing_and_its_proposal_can_be_replaced(rita_api, config_change, approver,
                                                                             requester):
    from apps.changes.services import approval_record, change_submit

    change = change_submit(change=config_change(), actor=requester)
    # In review, no decision yet: the requester may still correct the proposal.
    assert put_baseline(rita_api, change, SETTINGS).status_code == 200
    approval_record(change=change, approver=approver, decision="reject", comment="Pool too small")
    assert ConfigBaseline.objects.get().status == "proposed"
    other = config_change(title="Try again")
    response = put_baseline(rita_api, other, SETTINGS)
    assert response.status_code == 200, response.json()
    assert ConfigBaseline.objects.get(change=change).status == "withdrawn"
    assert response.json()["pending"]["version"] == 2


def test_one_proposal_at_a_time(rita_api, config_change):
    put_baseline(rita_api, config_change(), SETTINGS)
    response = put_baseline(rita_api, config_change(title="Another"), SETTINGS)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "baseline_proposal_pending"


def test_the_change_must_be_of_the_same_service_and_environment(rita_api, config_change):
    response = put_baseline(rita_api, config_change(env="staging"), SETTINGS, env="prod")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "change_scope_mismatch"
    assert not ConfigBaseline.objects.exists()


def test_a_decided_change_takes_no_new_proposal(rita_api, config_change, approve):
    change = approve(config_change())
    response = put_baseline(rita_api, change, SETTINGS)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "change_already_decided"


@pytest.mark.parametrize("flags", [{"is_pre_approved": True}, {"requires_peer_review": False}])
def test_only_a_configuration_change_type_carries_a_baseline(flags, rita_api, config_change, config_type):
    change = config_change()
    for name, value in flags.items():
        setattr(config_type, name, value)
    config_type.save()
    response = put_baseline(rita_api, change, SETTINGS)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "change_type_not_configuration"


def test_only_the_changes_requester_implementer_or_pipeline_proposes(api_client_for, approver, bot_api,
                                                                     config_change):
    change = config_change()
    other = api_client_for(approver, ["changes:write", "delivery:read"])
    response = put_baseline(other, change, SETTINGS)
    assert response.status_code == 403
    assert put_baseline(bot_api, change, SETTINGS).status_code == 200


def test_invalid_settings_name_the_field(rita_api, config_change):
    change = config_change()
    response = put_baseline(rita_api, change, {"POOL": {"value": 20}})
    assert response.status_code == 400
    assert "settings.POOL" in response.json()["error"]["fields"]
    response = put_baseline(rita_api, change, {"bad key!": setting("x")})
    assert response.status_code == 400
    assert "settings" in response.json()["error"]["fields"]
    response = put_baseline(rita_api, change, {"TOKEN_REF": setting("vault://x", fingerprint="zz")})
    assert response.json()["error"]["fields"] == {"settings.TOKEN_REF": [
        "fingerprint is the SHA-256 of the resolved value, 64 hex digits."]}
    assert not ConfigBaseline.objects.exists()


def test_an_outsider_gets_nothing(api_client_for, outsider, config_change):
    change = config_change()
    client = api_client_for(outsider)
    assert client.get("/api/v1/config/baselines/payments-api/staging/").status_code == 403
    assert put_baseline(client, change, SETTINGS).status_code == 403
    assert not ConfigBaseline.objects.exists()
