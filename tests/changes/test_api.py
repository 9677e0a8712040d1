"""The change request API of API.md: create, submit, read, list with filters, approvals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.changes.models import Approval, ChangeRequest


def _payload(**extra):
    start = timezone.now() + timedelta(days=2)
    body = {"title": "Rotate TLS certificates", "description": "Swap the certs", "change_type": "simple",
            "service": "payments-api", "environment": "staging", "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(), "rollout_strategy": "canary",
            "rollback_plan": "Restore the old certs", "rollback_criteria": {"error_rate_pct": 5, "window_minutes": 5},
            "compliance_scopes": ["sox"]}
    body.update(extra)
    return body


@pytest.fixture
def client_of(api_client_for):
    return api_client_for


def test_it_creates_a_draft_with_a_number(client_of, requester, service, environments, simple_type):
    response = client_of(requester).post("/api/v1/changes/", _payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft"
    assert body["number"] == f"CHG-{body['id']:06d}"
    assert body["risk_level"] in ("low", "medium", "high", "critical")
    assert body["approval"]["stages"][0]["name"] == "Approval"


def test_create_refuses_bad_input_with_field_errors(client_of, requester, service, environments, simple_type):
    response = client_of(requester).post("/api/v1/changes/", _payload(service="nope", planned_end="2020-01-01T00:00:00Z"),
                                         format="json")
    assert response.status_code == 400
    assert "service" in response.json()["error"]["fields"]
    response = client_of(requester).post("/api/v1/changes/", _payload(rollout_strategy="yolo"), format="json")
    assert response.status_code == 400
    assert "rollout_strategy" in response.json()["error"]["fields"]


def test_end_before_start_is_refused(client_of, requester, service, environments, simple_type):
    start = timezone.now() + timedelta(days=2)
    response = client_of(requester).post("/api/v1/changes/", _payload(planned_start=start.isoformat(),
                                                                      planned_end=(start - timedelta(hours=1)).isoformat()),
                                         format="json")
    assert response.status_code == 400
    assert "planned_end" in response.json()["error"]["fields"]


def test_idempotency_key_replays_the_first_response(client_of, requester, service, environments, simple_type):
    client = client_of(requester)
    body = _payload()
    first = client.post("/api/v1/changes/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = client.post("/api/v1/changes/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert ChangeRequest.objects.count() == 1


def test_submit_then_approve_by_number(client_of, requester, approver, service, environments, simple_type, mailoutbox,
                                       django_capture_on_commit_callbacks):
    created = client_of(requester).post("/api/v1/changes/", _payload(), format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        submitted = client_of(requester).post(f"/api/v1/changes/{created['number']}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["state"] == "in_review"
    assert any("adam@example.test" in m.to for m in mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        decided = client_of(approver).post(f"/api/v1/changes/{created['id']}/approvals/",
                                           {"decision": "approve", "comment": "fine"}, format="json")
    assert decided.status_code == 201, decided.content
    assert decided.json()["approver"] == "adam"
    detail = client_of(requester).get(f"/api/v1/changes/{created['number']}/").json()
    assert detail["state"] == "approved"
    assert detail["approval"]["status"] == "approved"
    assert detail["approval"]["stages"][0] == {**detail["approval"]["stages"][0], "approved": 1, "status": "approved"}
    assert detail["conflicts"] == []
    assert any(m.to == ["rita@example.test"] and "approved" in m.subject for m in mailoutbox)


def test_sod_error_codes_over_the_api(client_of, requester, approver, service, environments, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    refused = client_of(requester).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "self_approval_forbidden"
    client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")


def test_already_decided_is_409(client_of, approver, person, team, service, environments, make_type, make_change):
    change_type = make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    first = client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    assert first.status_code == 201
    again = client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_decided"


def test_not_an_approver_is_403(client_of, release_manager, service, environments, simple_type, make_change):
    change = make_change(simple_type, submit=True)
    response = client_of(release_manager).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"},
                                               format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_an_approver"


def test_production_approval_needs_the_approver_privilege(client_of, approver, service, environments, simple_type,
                                                          make_change, django_capture_on_commit_callbacks):
    change = make_change(simple_type, submit=True, environment=environments["prod"])
    refused = client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "approver_privilege_required"
    assign_perm("catalog.approve_service_changes", approver, service)
    received = []
    from apps.catalog.signals import privilege_exercised

    def listener(sender, **kwargs):
        received.append(kwargs)

    privilege_exercised.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ok = client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    finally:
        privilege_exercised.disconnect(listener)
    assert ok.status_code == 201
    assert received and received[0]["privilege"] == "approver" and received[0]["user"] == approver


def test_list_filters(client_of, requester, service, other_team, environments, simple_type, make_change):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="sso", owner_team=other_team)
    make_change(simple_type)
    make_change(simple_type, submit=True)
    make_change(simple_type, service=other)
    client = client_of(requester)
    assert client.get("/api/v1/changes/").json()["count"] == 3
    assert client.get("/api/v1/changes/?state=in_review").json()["count"] == 1
    assert client.get("/api/v1/changes/?service=sso").json()["count"] == 1
    assert client.get("/api/v1/changes/?team=payments").json()["count"] == 2
    assert client.get("/api/v1/changes/?change_type=simple").json()["count"] == 3
    assert client.get("/api/v1/changes/?state=bogus").status_code == 400


def test_list_costs_a_fixed_number_of_queries(client_of, requester, simple_type, make_change,
                                              django_assert_max_num_queries):
    for _ in range(8):
        make_change(simple_type)
    client = client_of(requester)
    with django_assert_max_num_queries(15):
        response = client.get("/api/v1/changes/")
    assert response.json()["count"] == 8


def test_patch_edits_and_voids_approvals(client_of, requester, approver, person, simple_type, make_type, make_change):
    change_type = make_type("two", [{"name": "Peers", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    client_of(approver).post(f"/api/v1/changes/{change.pk}/approvals/", {"decision": "approve"}, format="json")
    response = client_of(requester).patch(f"/api/v1/changes/{change.pk}/", {"rollback_plan": "Something else"},
                                          format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "in_review"
    assert "void" in body["review_reason"]
    assert body["approval"]["stages"][0]["approved"] == 0


def test_transition_endpoint(client_of, requester, simple_type, make_change):
    change = make_change(simple_type)
    response = client_of(requester).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": "completed"},
                                         format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    response = client_of(requester).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": "cancelled"},
                                         format="json")
    assert response.json()["state"] == "cancelled"


@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/v1/changes/", None),
    ("post", "/api/v1/changes/", {}),
    ("get", "/api/v1/changes/{id}/", None),
    ("patch", "/api/v1/changes/{id}/", {"title": "x"}),
    ("post", "/api/v1/changes/{id}/submit/", {}),
    ("post", "/api/v1/changes/{id}/transition/", {"to_state": "cancelled"}),
    ("get", "/api/v1/changes/{id}/approvals/", None),
    ("post", "/api/v1/changes/{id}/approvals/", {"decision": "approve"}),
    ("post", "/api/v1/changes/{id}/emergency-override/", {"reason": "x"}),
    ("post", "/api/v1/changes/{id}/post-mortem/", {"post_mortem": "x"}),
])
def test_anonymous_and_outsiders_get_nothing(api_client, client_of, outsider, simple_type, make_change, method, path, body):
    change = make_change(simple_type, submit=True)
    url = path.format(id=change.pk)
    anonymous = getattr(api_client, method)(url, body, format="json")
    assert anonymous.status_code == 401
    outside = getattr(client_of(outsider), method)(url, body, format="json")
    assert outside.status_code in (403, 404)
    assert Approval.objects.count() == 0
    assert ChangeRequest.objects.get(pk=change.pk).state == "in_review"


def test_unknown_change_is_404(client_of, requester):
    assert client_of(requester).get("/api/v1/changes/CHG-999999/").status_code == 404
    assert client_of(requester).get("/api/v1/changes/nonsense/").status_code == 404


def test_emergency_override_and_post_mortem_over_the_api(client_of, seeded_types, make_change, release_manager,
                                                         requester):
    change = make_change(seeded_types["emergency"], submit=True)
    refused = client_of(requester).post(f"/api/v1/changes/{change.pk}/emergency-override/", {"reason": "down"},
                                        format="json")
    assert refused.status_code == 403
    granted = client_of(release_manager).post(f"/api/v1/changes/{change.pk}/emergency-override/",
                                              {"reason": "Payments down", "hours": 4}, format="json")
    assert granted.status_code == 201, granted.content
    body = granted.json()
    assert body["state"] == "implementing" and body["emergency_override"]["active"] is True
    closed = client_of(requester).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": "completed"},
                                       format="json")
    assert closed.status_code == 200
    blocked = client_of(requester).post(f"/api/v1/changes/{change.pk}/transition/", {"to_state": "closed"},
                                        format="json")
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "post_mortem_required"
    recorded = client_of(requester).post(f"/api/v1/changes/{change.pk}/post-mortem/",
                                         {"post_mortem": "Cert expired; added alerting"}, format="json")
    assert recorded.status_code == 200 and recorded.json()["post_mortem_at"]
