"""The incident API of API.md: create, read with the link, list with filters, patch to resolve,
override the link, updates, and who may do what."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents import services
from apps.incidents.models import Incident

from .conftest import T0

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"


def _iso(dt):
    return dt.isoformat()


@pytest.fixture
def writer(api_client_for, requester):
    return api_client_for(requester)


def test_a_pipeline_opens_an_incident_and_reads_its_inferred_link(api_client_for, service_account, service,
                                                                  make_deployment):
    deployment = make_deployment(finished_at=T0)
    client = api_client_for(service_account)
    response = client.post(URL, {"service": "payments-api", "title": "5xx on /pay", "severity": "sev2",
                                 "classification": "code-defect", "started_at": _iso(T0 + timedelta(minutes=30)),
                                 "detected_at": _iso(T0 + timedelta(minutes=35))}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open" and body["classification"] == "code-defect"
    assert body["linked_deployment"] == deployment.pk and body["link"] == "inferred"
    assert body["caused_by_deployment"] is None
    detail = client.get(f"{URL}{body['id']}/").json()
    assert (detail["linked_deployment"], detail["link"]) == (deployment.pk, "inferred")
    assert [u["kind"] for u in detail["updates"]] == ["opened"]


def test_an_explicit_link_at_creation_is_explicit(writer, service, make_deployment):
    older = make_deployment(finished_at=T0 - timedelta(days=2), version="0.9")
    make_deployment(finished_at=T0, version="1.0")
    response = writer.post(URL, {"service": "payments-api", "title": "Bad config", "severity": "sev3",
                                 "started_at": _iso(T0 + timedelta(hours=1)), "caused_by_deployment": older.pk},
                           format="json")
    assert response.status_code == 201
    assert (response.json()["linked_deployment"], response.json()["link"]) == (older.pk, "explicit")


def test_an_incident_without_an_earlier_deployment_has_a_null_link(writer, service):
    response = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev4",
                                 "started_at": _iso(T0)}, format="json")
    assert (response.json()["linked_deployment"], response.json()["link"]) == (None, None)


def test_creating_with_resolved_at_records_a_resolved_incident(writer, service):
    response = writer.post(URL, {"service": "payments-api", "title": "Backfilled", "severity": "sev3",
                                 "started_at": _iso(T0), "resolved_at": _iso(T0 + timedelta(hours=2))}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "resolved"


def test_bad_input_names_the_fields(writer, service):
    response = writer.post(URL, {"service": "nope", "title": "", "severity": "sev9", "started_at": "yesterday"},
                           format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert {"service", "title", "severity", "started_at"} <= set(fields)


def test_times_out_of_order_are_refused(writer, service):
    response = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3", "started_at": _iso(T0),
                                 "detected_at": _iso(T0 - timedelta(minutes=5))}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_times"
    assert "detected_at" in response.json()["error"]["fields"]
    assert Incident.objects.count() == 0


def test_idempotency_key_replays_the_first_response(writer, service):
    payload = {"service": "payments-api", "title": "Once", "severity": "sev3", "started_at": _iso(T0)}
    first = writer.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="inc-1")
    second = writer.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="inc-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Incident.objects.count() == 1
    other = writer.post(URL, {**payload, "title": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="inc-1")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_patch_resolves_with_the_reported_time(writer, service):
    created = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3",
                                "started_at": _iso(T0)}, format="json").json()
    resolved_at = T0 + timedelta(hours=3)
    response = writer.patch(f"{URL}{created['id']}/", {"resolved_at": _iso(resolved_at), "message": "Fixed"},
                            format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"].startswith("2026-10-01T15:00")
    assert body["updates"][-1]["message"] == "Fixed"


def test_patch_rejects_an_impossible_transition(writer, service):
    created = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3",
                                "started_at": _iso(T0)}, format="json").json()
    response = writer.patch(f"{URL}{created['id']}/", {"status": "closed"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"


def test_patch_overrides_the_link_with_a_reason(writer, service, make_deployment):
    inferred = make_deployment(finished_at=T0)
    chosen = make_deployment(finished_at=T0 - timedelta(days=3), version="0.8")
    created = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3",
                                "started_at": _iso(T0 + timedelta(hours=1))}, format="json").json()
    assert created["linked_deployment"] == inferred.pk
    url = f"{URL}{created['id']}/"
    refused = writer.patch(url, {"caused_by_deployment": chosen.pk}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "reason_required"
    body = writer.patch(url, {"caused_by_deployment": chosen.pk, "link_override_reason": "Migration in 0.8"},
                        format="json").json()
    assert (body["linked_deployment"], body["link"]) == (chosen.pk, "explicit")
    assert body["link_override_reason"] == "Migration in 0.8" and body["link_overridden_by"] == "rita"
    body = writer.patch(url, {"link_suppressed": True, "caused_by_deployment": None,
                              "link_override_reason": "Provider outage"}, format="json").json()
    assert (body["linked_deployment"], body["link"], body["link_suppressed"]) == (None, None, True)


def test_list_filters_by_service_severity_status_and_start(writer, service, team, requester):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="ledger", owner_team=team)
    services.incident_open(service=service, title="a", severity="sev1", started_at=T0, actor=requester)
    b = services.incident_open(service=other, title="b", severity="sev2", started_at=T0 + timedelta(days=1),
                               actor=requester)
    services.incident_post_update(incident=b, actor=requester, to_status="mitigated")
    services.incident_open(service=other, title="c", severity="sev2", started_at=T0 + timedelta(days=5),
                           actor=requester)

    def titles(query):
        response = writer.get(URL + query)
        assert response.status_code == 200
        return sorted(r["title"] for r in response.json()["results"])

    assert titles("") == ["a", "b", "c"]
    assert titles("?service=ledger") == ["b", "c"]
    assert titles("?severity=sev1") == ["a"]
    assert titles("?status=mitigated") == ["b"]
    assert titles(f"?started_after={(T0 + timedelta(hours=1)).isoformat().replace('+', '%2B')}") == ["b", "c"]
    assert titles(f"?started_before={(T0 + timedelta(days=2)).isoformat().replace('+', '%2B')}") == ["a", "b"]


def test_the_list_costs_a_fixed_number_of_queries(writer, service, requester, make_deployment,
                                                  django_assert_max_num_queries):
    for day in range(12):
        make_deployment(finished_at=T0 + timedelta(days=day), version=f"1.{day}")
        services.incident_open(service=service, title=f"i{day}", severity="sev3",
                               started_at=T0 + timedelta(days=day, hours=1), actor=requester)
    with django_assert_max_num_queries(8):
        response = writer.get(URL)
    assert len(response.json()["results"]) == 12
    assert all(r["link"] == "inferred" for r in response.json()["results"])


def test_post_an_update_endpoint(writer, service, requester):
    incident = services.incident_open(service=service, title="x", severity="sev3", started_at=T0, actor=requester)
    response = writer.post(f"{URL}{incident.pk}/updates/", {"message": "Mitigated by scaling", "status": "mitigated"},
                           format="json")
    assert response.status_code == 201
    assert response.json()["to_status"] == "mitigated"


def test_a_member_of_another_team_without_a_write_role_cannot_update(api_client_for, cab_member, service, requester):
    incident = services.incident_open(service=service, title="x", severity="sev3", started_at=T0, actor=requester)
    client = api_client_for(cab_member)
    assert client.get(f"{URL}{incident.pk}/").status_code == 200
    # cate's roles give no incidents:write scope at all
    response = client.patch(f"{URL}{incident.pk}/", {"message": "hi"}, format="json")
    assert response.status_code == 403


def test_a_team_member_whose_token_may_write_but_not_for_this_service_is_refused(api_client_for, roles_ready,
                                                                                 other_team, service, requester):
    from tests.factories import UserFactory

    stranger = UserFactory(username="sid", roles=(), team=other_team)
    incident = services.incident_open(service=service, title="x", severity="sev3", started_at=T0, actor=requester)
    from apps.incidents.permissions import can_update

    assert not can_update(stranger, incident)
    assert can_update(requester, incident)


def test_timestamps_are_utc_with_offset(writer, service):
    body = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3",
                             "started_at": "2026-10-01T14:00:00+02:00"}, format="json").json()
    assert body["started_at"] == "2026-10-01T12:00:00Z" or body["started_at"].endswith("+00:00")


def test_classifications_are_listed(writer):
    response = writer.get("/api/v1/incident-classifications/")
    assert response.status_code == 200
    slugs = {c["slug"] for c in response.json()["results"]}
    assert {"code-defect", "configuration-error", "schema-migration"} <= slugs


def test_now_is_not_in_the_future(writer, service):
    response = writer.post(URL, {"service": "payments-api", "title": "x", "severity": "sev3",
                                 "started_at": _iso(timezone.now() + timedelta(days=1))}, format="json")
    assert response.status_code == 400
