"""The input layer (releaseportal/input.py): strict ids, range-checked datetimes, NUL and control
characters refused, JSON depth bounded — each a 4xx naming the field, never a 500."""

from __future__ import annotations

import json

import pytest

from apps.delivery.models import Artifact, Deployment, GateDecision
from releaseportal.input import json_depth_exceeds, parse_id

pytestmark = pytest.mark.django_db


def _fields(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["fields"]


@pytest.fixture
def changes_client(api_client_for, requester):
    return api_client_for(requester, ["changes:read", "changes:write"])


@pytest.mark.parametrize("text, expected", [
    ("12", 12), (" 7 ", 7), ("²", None), ("١٢", None), ("0", None), ("-3", None), ("1" * 19, None),
    ("12a", None), ("", None), (None, None), (5, 5),
])
def test_parse_id_takes_ascii_digits_within_bigint_only(text, expected):
    assert parse_id(text) == expected


@pytest.mark.parametrize("path", ["/api/v1/changes/%C2%B2/", "/api/v1/changes/%D9%A1/", "/api/v1/changes/99999999999999999999/"])
def test_a_unicode_digit_or_huge_change_id_is_404_json(changes_client, path):
    response = changes_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_submit_with_a_unicode_digit_is_404(changes_client):
    response = changes_client.post("/api/v1/changes/%C2%B2/submit/", {}, format="json")
    assert response.status_code == 404


def test_the_change_page_with_a_unicode_digit_is_404(client, requester):
    client.force_login(requester)
    assert client.get("/changes/%C2%B2/").status_code == 404


@pytest.mark.parametrize("url, param", [
    ("/api/v1/deployments/", "finished_after"),
    ("/api/v1/deployments/", "finished_before"),
    ("/api/v1/incidents/", "started_after"),
    ("/api/v1/gates/decisions/", "created_after"),
    ("/api/v1/artifacts/", "created_after"),
])
@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+16:00", "2026-01-01T00:00:00-23:59",
                                   "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_datetime_filters_beyond_range_are_400_naming_the_parameter(api_client_for, deployer, auditor, url, param,
                                                                    value):
    client = api_client_for(deployer, ["delivery:read"]) if "incidents" not in url else api_client_for(
        auditor, ["incidents:read"])
    response = client.get(url, {param: value})
    assert response.status_code == 400, response.content
    assert param in _fields(response)


def test_a_datetime_filter_within_range_still_filters(pipeline, make_artifact):
    make_artifact()
    response = pipeline.get("/api/v1/artifacts/", {"created_after": "2000-01-01T00:00:00+15:59"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("body_field", ["service", "environment"])
def test_a_nul_in_a_slug_is_400_naming_the_field_and_nothing_is_stored(pipeline, make_artifact, body_field):
    artifact = make_artifact()
    body = {"service": "payments-api", "environment": "prod", "artifact": artifact.digest, "status": "succeeded"}
    body[body_field] = body[body_field] + "\u0000"
    before = Deployment.objects.count()
    response = pipeline.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 400
    assert body_field in _fields(response)
    assert Deployment.objects.count() == before


def test_a_nul_in_a_gate_check_and_an_artifact_is_400(pipeline):
    gate = pipeline.post("/api/v1/gates/check/", {"service": "k8s\u0000", "environment": "prod",
                                                  "artifact": "sha256:" + "a" * 64}, format="json")
    assert gate.status_code == 400 and "service" in _fields(gate)
    assert not GateDecision.objects.exists()
    artifact = pipeline.post("/api/v1/artifacts/", {"service": "payments-api", "version": "1.0\u0000",
                                                    "digest": "sha256:" + "b" * 64, "git_sha": "c" * 40,
                                                    "format": "oci_image"}, format="json")
    assert artifact.status_code == 400 and "version" in _fields(artifact)
    assert not Artifact.objects.exists()


def test_a_nul_in_a_json_key_is_named_by_its_path(changes_client, service, environments, change_type):
    response = changes_client.post("/api/v1/changes/", {
        "title": "t", "change_type": "normal", "service": service.slug, "environment": "prod",
        "rollback_criteria": {"error_rate_pct\u0000": 5}}, format="json")
    assert response.status_code == 400
    assert any(name.startswith("rollback_criteria.") for name in _fields(response))


@pytest.mark.parametrize("url", ["/api/v1/deployments/?service=k8s%00", "/api/v1/deployments/?se%01rvice=x",
                                 "/api/v1/reports/dora/?team=a%00"])
def test_control_characters_in_query_parameters_are_400_json(pipeline, url):
    response = pipeline.get(url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "control_character"


def test_control_characters_in_an_html_route_are_400(client, requester):
    client.force_login(requester)
    assert client.get("/changes/?q=a%00b").status_code == 400


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_json_nested_1000_deep_is_refused_before_parsing(pipeline, monkeypatch):
    import json as json_module

    real_loads = json_module.loads

    def guarded(text, *args, **kwargs):  # the deep body must never reach the parser
        if isinstance(text, (str, bytes)) and ("[" * 500 in str(text)):
            raise AssertionError("json.loads called on a 1,000-deep body")
        return real_loads(text, *args, **kwargs)

    monkeypatch.setattr(json_module, "loads", guarded)
    response = pipeline.generic("POST", "/api/v1/deployments/", '{"commits": ' + _deep(1000) + "}",
                                content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "nested_too_deeply"


@pytest.mark.parametrize("path", ["/api/v1/deployments/", "/api/v1/gates/check/", "/hooks/github/"])
def test_a_deep_json_body_is_refused_before_authentication(client, path, django_assert_num_queries):
    """No token, session or webhook-secret lookup for a body refused by its shape: the refusal
    costs a scan of the body and no query (bench/hostile.py: <= 5 ms)."""
    with django_assert_num_queries(0):
        response = client.post(path, '{"a": ' + _deep(1000) + "}", content_type="application/json",
                               HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "nested_too_deeply" and body["fields"] == {"body": ["nested deeper than 100 levels"]}


def test_scim_keeps_its_own_answers_to_a_deep_body(client):
    """SCIM answers its own error schema (RFC 7644): the guard leaves its routes alone."""
    response = client.post("/scim/v2/Users", '{"a": ' + _deep(1000) + "}", content_type="application/scim+json")
    assert "nested_too_deeply" not in response.content.decode()


def test_a_body_within_the_depth_bound_is_scanned_once(pipeline, monkeypatch):
    """The guard's scan stands for the parser's: the API's JSON parser does not scan again."""
    from releaseportal import input as input_layer

    calls: list[int] = []
    real = input_layer.json_depth_exceeds

    def counting(text, *args, **kwargs):
        calls.append(len(text))
        return real(text, *args, **kwargs)

    monkeypatch.setattr(input_layer, "json_depth_exceeds", counting)
    monkeypatch.setattr("releaseportal.faults.json_depth_exceeds", counting)
    response = pipeline.post("/api/v1/deployments/", {"service": "nope"}, format="json")
    assert response.status_code == 400  # refused later, by the serializer: the body was parsed
    assert len(calls) == 1


def test_depth_scan_ignores_brackets_inside_strings():
    assert not json_depth_exceeds(json.dumps({"a": "[" * 5000}))
    assert json_depth_exceeds(_deep(101))
    assert not json_depth_exceeds(_deep(100))


def test_a_deep_json_to_a_signed_webhook_is_400_not_500(client, db):
    import hashlib
    import hmac

    from apps.delivery.models import WebhookIntegration

    WebhookIntegration.objects.create(provider="github", name="gh", secret="s3cret")
    body = ('{"a": ' + _deep(1000) + "}").encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    response = client.post("/hooks/github/", body, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=signature, HTTP_X_GITHUB_EVENT="deployment",
                           HTTP_X_GITHUB_DELIVERY="d-1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "nested_too_deeply"


@pytest.mark.parametrize("month", ["9999-12", "10000-01", "0000-01"])
def test_a_dora_month_out_of_range_is_400(api_client_for, auditor, month):
    response = api_client_for(auditor, ["reports:read"]).get("/api/v1/reports/dora/", {"month": month})
    assert response.status_code == 400
    assert "month" in _fields(response)


@pytest.mark.parametrize("value", ["null", "-1", "0", "²", "1.5"])
def test_a_page_size_that_is_not_a_positive_integer_is_400(pipeline, value):
    response = pipeline.get("/api/v1/deployments/", {"page_size": value})
    assert response.status_code == 400
    assert "page_size" in _fields(response)
