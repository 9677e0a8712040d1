# ruff: noqa: F811
"""Pipeline templates: a registry of versions approved through their change, adopted by services,
and the gate rule releases.templates that refuses (in production, by policy) a run built from an
unapproved, deprecated, unknown or not-adopted template version."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.delivery.models import GateDecision
from apps.releases import templates_services as templates
from apps.releases.models import PipelineTemplate, TemplateAdoption
from tests.delivery.conftest import approve_fully
from tests.delivery.test_gate import check, deny_codes, good_artifact  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rm_api(api_client_for, release_manager):
    return api_client_for(release_manager, ["delivery:read", "delivery:write"])


@pytest.fixture
def registry(release_manager, make_change, service):
    """standard@1 (approved, deprecated later by tests), standard@2 (approved, adopted by the
    service) and standard@3 (proposed)."""
    template = templates.template_create(slug="standard", name="Standard", actor=release_manager)
    versions = {}
    for number in ("1", "2", "3"):
        change = make_change(state="approved" if number != "3" else "in_review")
        versions[number] = templates.template_version_propose(
            template=template, version=number, change=change, actor=release_manager,
            required_stages=["build", "test"], required_evidence_kinds=["junit"], required_gate_calls=["prod"])
        if number != "3":
            versions[number] = templates.template_version_approve(version=versions[number], actor=release_manager)
    templates.template_adopt(service=service, version=versions["2"], actor=release_manager)
    return template, versions


@pytest.fixture
def gate(pipeline, environments):  # noqa: F811
    def run(artifact, change, template="standard", version="2", env="prod"):
        body = {"service": "payments-api", "environment": env, "artifact": artifact.digest,
                "change": change.number if change else "", "pipeline_run_id": "run-9"}
        if template is not None:
            body |= {"pipeline_template": template, "pipeline_template_version": version}
        response = pipeline.post("/api/v1/gates/check/", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    return run


def _reason(result, code="pipeline_template_outdated"):
    return next((r for r in result["reasons"] if r["code"] == code), None)


# --- the registry ------------------------------------------------------------------------------

def test_a_version_is_approved_only_through_an_approved_change(rm_api, make_change):
    assert rm_api.post("/api/v1/pipeline-templates/", {"slug": "std", "name": "Standard"}, format="json").status_code == 201
    change = make_change(state="in_review")
    created = rm_api.post("/api/v1/pipeline-templates/std/versions/", {
        "version": "1.0", "change": change.number, "required_stages": ["build", "scan"],
        "required_evidence_kinds": ["junit", "sarif"], "required_gate_calls": ["prod"]}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "proposed"
    refused = rm_api.post("/api/v1/pipeline-templates/std/versions/1.0/approve/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "change_not_approved"
    change.state = "approved"
    change.save(update_fields=["state"])
    approve_fully(change)
    approved = rm_api.post("/api/v1/pipeline-templates/std/versions/1.0/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    actions = list(AuditEvent.objects.filter(action__startswith="releases.template").values_list("action", flat=True))
    assert sorted(actions) == ["releases.template_created", "releases.template_version_approved",
                               "releases.template_version_proposed"]


def test_a_version_without_a_change_cannot_be_approved(rm_api):
    rm_api.post("/api/v1/pipeline-templates/", {"slug": "std", "name": "Standard"}, format="json")
    rm_api.post("/api/v1/pipeline-templates/std/versions/", {"version": "1.0"}, format="json")
    refused = rm_api.post("/api/v1/pipeline-templates/std/versions/1.0/approve/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "change_required"


def test_unknown_evidence_kinds_and_environments_are_refused_naming_the_field(rm_api):
    rm_api.post("/api/v1/pipeline-templates/", {"slug": "std", "name": "Standard"}, format="json")
    bad = rm_api.post("/api/v1/pipeline-templates/std/versions/", {"version": "1", "required_evidence_kinds": ["x"]},
                      format="json")
    assert bad.status_code == 400 and "required_evidence_kinds" in bad.json()["error"]["fields"]
    bad = rm_api.post("/api/v1/pipeline-templates/std/versions/", {"version": "1", "required_gate_calls": ["mars"]},
                      format="json")
    assert bad.status_code == 400 and "required_gate_calls" in bad.json()["error"]["fields"]


def test_only_approved_versions_are_adopted(rm_api, registry):
    refused = rm_api.put("/api/v1/services/payments-api/pipeline-template/", {"template": "standard", "version": "3"},
                         format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "template_not_approved"
    ok = rm_api.put("/api/v1/services/payments-api/pipeline-template/", {"template": "standard", "version": "1"},
                    format="json")
    assert ok.status_code == 200 and ok.json()["version"] == "1"
    assert TemplateAdoption.objects.get().version.version == "1"


def test_a_requester_cannot_write_the_registry(api_client_for, requester):
    client = api_client_for(requester)
    assert client.post("/api/v1/pipeline-templates/", {"slug": "x", "name": "X"}, format="json").status_code == 403
    assert not PipelineTemplate.objects.exists()


def test_the_registry_lists_versions_with_their_adopters(rm_api, registry):
    body = rm_api.get("/api/v1/pipeline-templates/").json()
    (standard,) = body
    by_version = {v["version"]: v for v in standard["versions"]}
    assert by_version["2"]["adopted_by"] == ["payments-api"] and by_version["3"]["status"] == "proposed"


def test_an_outsider_gets_nothing(api_client_for, outsider, registry, client):
    assert api_client_for(outsider).get("/api/v1/pipeline-templates/").status_code in (401, 403)
    client.force_login(outsider)
    response = client.get("/releases/templates/")
    assert response.status_code in (302, 403, 404)
    assert b"Standard" not in response.content


def test_the_registry_page_costs_a_fixed_number_of_queries(client, requester, registry, release_manager,
                                                            django_assert_max_num_queries, make_change):
    client.force_login(requester)
    with django_assert_max_num_queries(12):
        small = client.get("/releases/templates/")
    for n in range(5):
        template = templates.template_create(slug=f"t{n}", name=f"T{n}", actor=release_manager)
        for m in range(3):
            templates.template_version_propose(template=template, version=str(m), actor=release_manager)
    with django_assert_max_num_queries(12):
        big = client.get("/releases/templates/")
    assert small.status_code == big.status_code == 200
    assert b"standard" in big.content and b"t4" in big.content


# --- the gate rule ---------------------------------------------------------------------------

def test_the_adopted_approved_version_passes_and_is_recorded(gate, good_artifact, make_change, registry):
    result = gate(good_artifact, make_change())
    assert result["decision"] == "allow", result
    assert _reason(result) is None
    decision = GateDecision.objects.get(pk=result["gate_decision_id"])
    assert (decision.pipeline_template, decision.pipeline_template_version) == ("standard", "2")
    assert result["pipeline_template"] == "standard" and result["pipeline_template_version"] == "2"


@pytest.mark.parametrize(("template", "version", "words"), [
    ("standard", "1", "adopted standard@2, the run used standard@1"),
    ("standard", "3", "standard@3 is proposed, not approved"),
    ("standard", "9", "no pipeline template version standard@9"),
    (None, None, "the run reported no pipeline template"),
])
def test_an_outdated_template_is_refused_in_production(gate, good_artifact, make_change, registry, template,
                                                       version, words):
    result = gate(good_artifact, make_change(), template=template, version=version)
    assert result["decision"] == "deny"
    assert deny_codes(result) == {"pipeline_template_outdated"}
    assert words in _reason(result)["message"]


def test_a_deprecated_version_is_refused_even_when_adopted(gate, good_artifact, make_change, registry,
                                                           release_manager):
    templates.template_version_deprecate(version=registry[1]["2"], actor=release_manager)
    result = gate(good_artifact, make_change())
    assert deny_codes(result) == {"pipeline_template_outdated"}
    assert "standard@2 is deprecated" in _reason(result)["message"]


def test_outside_production_an_outdated_template_only_warns(gate, make_artifact, make_change, registry):
    artifact = make_artifact()
    result = gate(artifact, make_change(env="staging"), version="1", env="staging")
    assert _reason(result)["severity"] == "warn"
    assert "pipeline_template_outdated" not in deny_codes(result)


def test_the_template_policy_decides_the_severity(gate, good_artifact, make_change, registry):
    PipelineTemplate.objects.filter(slug="standard").update(enforcement="warn")
    result = gate(good_artifact, make_change(), version="1")
    assert result["decision"] == "allow" and _reason(result)["severity"] == "warn"


def test_a_service_without_a_template_and_a_run_without_one_are_left_alone(gate, good_artifact, make_change):
    result = gate(good_artifact, make_change(), template=None)
    assert result["decision"] == "allow" and _reason(result) is None


def test_an_emergency_override_may_waive_an_outdated_template(gate, good_artifact, make_change, registry,
                                                              monkeypatch):
    from apps.delivery import gate as delivery_gate

    monkeypatch.setattr(delivery_gate, "active_emergency_override", lambda c: object())
    result = gate(good_artifact, make_change(), version="1")
    assert result["decision"] == "allow" and result["emergency_override"] is True


def test_the_demo_registry_is_idempotent(release_manager, make_change, service):
    from types import SimpleNamespace

    from apps.releases.demo_templates import seed_templates
    from apps.releases.models import PipelineTemplateVersion

    change = make_change(state="completed")
    approve_fully(change)
    ctx = SimpleNamespace(services={"payments-api": service}, say=lambda message: None)
    seed_templates(ctx)
    seed_templates(ctx)
    statuses = dict(PipelineTemplateVersion.objects.values_list("version", "status"))
    assert statuses == {"1.4": "deprecated", "2.0": "approved", "2.1": "proposed"}
    assert TemplateAdoption.objects.get(service=service).version.version == "2.0"


def test_a_recorded_deployment_keeps_the_template_its_run_reported(pipeline, make_artifact, environments):
    from apps.delivery.models import Deployment

    artifact = make_artifact()
    response = pipeline.post("/api/v1/deployments/", {
        "service": "payments-api", "environment": "staging", "artifact": artifact.digest, "status": "succeeded",
        "pipeline_template": "standard", "pipeline_template_version": "2"}, format="json")
    assert response.status_code == 201, response.json()
    deployment = Deployment.objects.get(pk=response.json()["id"])
    assert (deployment.pipeline_template, deployment.pipeline_template_version) == ("standard", "2")
    assert AuditEvent.objects.get(action="delivery.deployment_recorded").details["pipeline_template"] == "standard"
