"""Compliance checkpoints: defined per scope, met by the change's approvals and its artifacts'
evidence, waived only by the scope's named role (audited); a change is not scheduled and a
release does not start while one is open."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.changes import services as change_services
from apps.releases import services
from apps.releases.models import CheckpointWaiver, ComplianceCheckpoint

pytestmark = pytest.mark.django_db

SOX = {"name": "SOX", "retention_days": 2555, "waiver_role": "security_officer", "checkpoints": [
    {"name": "Tested and reviewed", "required_evidence_kinds": ["junit"],
     "required_approval_stages": ["Technical review"], "control": "sox_change_management"}]}


@pytest.fixture
def sox(api_client_for, release_manager):
    response = api_client_for(release_manager).put("/api/v1/compliance-scopes/sox/", SOX, format="json")
    assert response.status_code == 200, response.json()
    return ComplianceCheckpoint.objects.get(scope__key="sox")


def with_junit(change, make_artifact, environments, service_account):
    """An artifact with JUnit evidence that the change deployed to staging."""
    from apps.delivery.models import Deployment, Evidence

    artifact = make_artifact(svc=change.service)
    Evidence.objects.create(artifact=artifact, kind="junit", summary={"tests": 3}, created_by=service_account)
    Deployment.objects.create(service=change.service, environment=environments["staging"], artifact=artifact,
                              change=change, status="succeeded")


def test_definitions_are_listed_and_only_release_managers_define_them(sox, api_client_for, requester, outsider,
                                                                      release_manager):
    (row,) = api_client_for(requester).get("/api/v1/compliance-scopes/").json()
    assert row["key"] == "sox" and row["checkpoints"][0]["required_evidence_kinds"] == ["junit"]
    assert api_client_for(requester).put("/api/v1/compliance-scopes/pci/", SOX, format="json").status_code == 403
    assert api_client_for(outsider).get("/api/v1/compliance-scopes/").status_code == 403
    bad = {**SOX, "checkpoints": [{"name": "x", "required_evidence_kinds": ["fax"]}]}
    assert api_client_for(release_manager).put("/api/v1/compliance-scopes/sox/", bad, format="json").status_code == 400
    assert api_client_for(release_manager).put("/api/v1/compliance-scopes/nope/", SOX, format="json").status_code == 400
    assert AuditEvent.objects.filter(action="compliance_scope.defined").count() == 1


def test_an_unmet_checkpoint_holds_the_move_to_scheduled_until_the_evidence_exists(
        sox, make_change, requester, make_artifact, environments, service_account):
    change = make_change(state="approved", env="prod")  # payments-api: sox, pci; Technical review approved
    with pytest.raises(Exception) as refused:
        change_services.change_transition(change=change, to_state="scheduled", actor=requester)
    assert refused.value.code == "checkpoint_unmet" and "evidence junit" in refused.value.message
    with_junit(change, make_artifact, environments, service_account)
    assert change_services.change_transition(change=change, to_state="scheduled", actor=requester).state == "scheduled"


def test_an_unapproved_stage_leaves_the_checkpoint_open(sox, make_change, make_artifact, environments,
                                                        service_account):
    from apps.releases.checkpoints import status_for_changes

    change = make_change(state="approved", env="prod", approved=False)
    with_junit(change, make_artifact, environments, service_account)
    (row,) = status_for_changes([change])[change.pk]
    assert row.status == "open" and row.missing == ["approval Technical review"]


def test_only_the_named_role_waives_never_the_changes_people(sox, make_change, requester, api_client_for, signers):
    change = make_change(state="approved", env="prod")
    url = f"/api/v1/changes/{change.number}/checkpoint-waivers/"
    body = {"checkpoint": sox.pk, "reason": "Tests run in the vendor's lab; report attached to the ticket"}
    assert api_client_for(signers["product"]).post(url, body, format="json").status_code == 403
    response = api_client_for(signers["security"]).post(url, body, format="json")
    assert response.status_code == 201, response.json()
    assert CheckpointWaiver.objects.get().waived_by == signers["security"]
    assert AuditEvent.objects.filter(action="change.checkpoint_waived").count() == 1
    assert change_services.change_transition(change=change, to_state="scheduled", actor=requester).state == "scheduled"


def test_a_security_officer_who_filed_the_change_cannot_waive(sox, make_change, signers):
    from apps.changes.models import ChangeRequest
    from apps.releases.checkpoints import checkpoint_waive

    change = make_change(state="approved", env="prod")
    ChangeRequest.objects.filter(pk=change.pk).update(requester=signers["security"])
    change.refresh_from_db()
    with pytest.raises(Exception) as refused:
        checkpoint_waive(checkpoint=sox, change=change, reason="mine", actor=signers["security"])
    assert refused.value.code == "segregation_of_duties"
    assert not CheckpointWaiver.objects.exists()


def test_a_release_shows_its_checkpoints_and_does_not_start_while_one_is_open(
        sox, release, make_change, release_manager, api_client_for, make_artifact, environments, service_account):
    change = make_change(state="approved", env="prod")
    services.release_change_add(release=release, change=change, actor=release_manager)
    api = api_client_for(release_manager)
    (checkpoint,) = api.get(f"/api/v1/releases/{release.pk}/").json()["checkpoints"]
    assert checkpoint["scope"] == "sox" and checkpoint["status"] == "open"
    assert checkpoint["missing"] == [f"{change.number}: evidence junit"]
    api.post(f"/api/v1/releases/{release.pk}/transition/", {"to_state": "scope_locked"}, format="json")
    response = api.post(f"/api/v1/releases/{release.pk}/transition/", {"to_state": "in_progress"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "checkpoint_unmet"
    with_junit(change, make_artifact, environments, service_account)
    body = api.post(f"/api/v1/releases/{release.pk}/transition/", {"to_state": "in_progress"}, format="json").json()
    assert body["state"] == "in_progress" and body["checkpoints"][0]["status"] == "met"
    assert f"{change.number}: evidence junit" in body["checkpoints"][0]["evidence"]


def test_the_change_page_offers_the_waiver_to_the_named_role(sox, make_change, client, signers, requester):
    change = make_change(state="approved", env="prod")
    client.force_login(requester)
    html = client.get(f"/changes/{change.number}/").content.decode()
    assert "Compliance checkpoints" in html and "Tested and reviewed" in html and "Waive" not in html
    assert client.post(f"/changes/{change.number}/checkpoints/{sox.pk}/waive/", {"reason": "x"}).status_code == 403
    client.force_login(signers["security"])
    assert ">Waive</button>" in client.get(f"/changes/{change.number}/").content.decode()
    client.post(f"/changes/{change.number}/checkpoints/{sox.pk}/waive/", {"reason": "lab report"})
    assert CheckpointWaiver.objects.filter(change=change).exists()
