"""Terraform/OpenTofu plans: counted from resource_changes[].change.actions, checked by hand
against the real plans in ../shared/fixtures/terraform/, malformed ones refused naming `plan`."""

from __future__ import annotations

import json

import pytest

from apps.environments import terraform
from apps.environments.models import Provision, ProvisionResource

from .conftest import real_plan, with_actions

pytestmark = pytest.mark.django_db

ZERO = {"create": 0, "update": 0, "delete": 0, "replace": 0, "read": 0, "no_op": 0}


def test_basic_plan_counts_seven_creates_and_one_read(post_provision, environments):
    # basic.plan.json: data.null_data_source.baz is read; seven null_resources are created
    # (module.foo's two, bar, baz[0..2], foo).
    response = post_provision(env="staging", plan=real_plan("basic"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["summary"] == {**ZERO, "create": 7, "read": 1}
    assert body["plan_format_version"] == "0.1" and body["tool_version"] == "0.12.11"
    provision = Provision.objects.get(pk=body["id"])
    assert dict(provision.resources.values_list("address", "action")) == {
        "data.null_data_source.baz": "read", "module.foo.null_resource.aliased": "create",
        "module.foo.null_resource.foo": "create", "null_resource.bar": "create",
        "null_resource.baz[0]": "create", "null_resource.baz[1]": "create", "null_resource.baz[2]": "create",
        "null_resource.foo": "create"}
    assert provision.resources.get(address="data.null_data_source.baz").mode == "data"


def test_no_changes_plan_counts_six_no_ops(post_provision, environments):
    response = post_provision(env="dev", plan=real_plan("no_changes"))
    assert response.json()["summary"] == {**ZERO, "no_op": 6}


def test_update_plan_counts_one_update(post_provision, environments):
    body = post_provision(env="dev", tool="opentofu", plan=real_plan("update")).json()
    assert body["summary"] == {**ZERO, "update": 1}
    assert body["tool_version"] == "1.13.0-dev"
    assert list(ProvisionResource.objects.values_list("address", "resource_type", "action")) == [
        ("corner_user_identity.user", "corner_user_identity", "update")]


def test_delete_then_create_and_create_then_delete_are_each_one_replace(post_provision, environments):
    plan = with_actions(real_plan("basic"), {"null_resource.bar": ["delete", "create"],
                                             "null_resource.foo": ["create", "delete"],
                                             "null_resource.baz[0]": ["delete"]})
    body = post_provision(env="staging", plan=plan).json()
    assert body["summary"] == {**ZERO, "create": 4, "read": 1, "replace": 2, "delete": 1}


def test_a_plan_may_come_as_json_text(post_provision, environments):
    body = post_provision(env="dev", plan=json.dumps(real_plan("update"))).json()
    assert body["summary"]["update"] == 1


def test_a_run_without_a_plan_is_recorded_with_zero_counts(post_provision, environments):
    body = post_provision(env="dev", tool="ansible").json()
    assert body["has_plan"] is False and body["summary"] == ZERO


@pytest.mark.parametrize("plan, why", [
    ("not json{", "not valid JSON"),
    ([1, 2], "expected a JSON object"),
    ({"resource_changes": []}, "format_version is missing"),
    ({"format_version": "1.2", "resource_changes": {"a": 1}}, "resource_changes must be a list"),
    ({"format_version": "1.2", "resource_changes": ["x"]}, "resource_changes[0] must be an object"),
    ({"format_version": "1.2", "resource_changes": [{"address": "a.b", "change": {}}]},
     "resource_changes[0].change.actions must be a list of strings"),
    ({"format_version": "1.2", "resource_changes": [{"address": "a.b", "change": {"actions": ["explode"]}}]},
     "resource_changes[0].change.actions is not a known combination"),
    ({"format_version": "1.2", "resource_changes": [{"change": {"actions": ["create"]}}]},
     "resource_changes[0].address must be 1 to 500 characters"),
    ({"format_version": 12}, "format_version must be a string"),
])
def test_a_malformed_plan_is_refused_naming_plan_and_nothing_is_written(post_provision, environments, plan, why):
    response = post_provision(env="dev", plan=plan)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_plan" and error["fields"]["plan"] == [why]
    assert Provision.objects.count() == 0 and ProvisionResource.objects.count() == 0


def test_a_plan_nested_too_deeply_is_refused(post_provision, environments):
    deep: dict = {"x": 1}
    for _ in range(terraform.MAX_DEPTH + 5):
        deep = {"x": deep}
    response = post_provision(env="dev", plan={"format_version": "1.2", "variables": deep})
    # The API's input layer bounds every JSON body's depth before the plan parser sees it (#17):
    # the refusal names the depth, whichever of the two layers says it first.
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert any("nested deeper than 100 levels" in m for messages in fields.values() for m in messages), fields
    assert Provision.objects.count() == 0


def test_a_body_nested_past_the_parser_is_a_400_not_a_500(pipeline, environments):
    body = '{"tool": "terraform", "status": "applied", "plan": ' + "[" * 5000 + "]" * 5000 + "}"
    response = pipeline.post("/api/v1/environments/dev/provisions/", body, content_type="application/json")
    assert response.status_code == 400
    assert Provision.objects.count() == 0


def test_a_plan_over_the_size_limit_is_refused_naming_plan(post_provision, environments, monkeypatch):
    monkeypatch.setattr(terraform, "MAX_PLAN_BYTES", 1000)
    plan = real_plan("basic")
    response = post_provision(env="dev", plan=plan)
    assert response.status_code == 400 and "plan" in response.json()["error"]["fields"]
    assert Provision.objects.count() == 0


def test_too_many_resource_changes_are_refused(post_provision, environments, monkeypatch):
    monkeypatch.setattr(terraform, "MAX_RESOURCE_CHANGES", 3)
    response = post_provision(env="dev", plan=real_plan("basic"))
    assert response.status_code == 400 and response.json()["error"]["fields"]["plan"] == [
        "more than 3 resource changes"]


def test_a_plan_is_read_for_terraform_and_opentofu_only(post_provision, environments):
    response = post_provision(env="dev", tool="pulumi", plan=real_plan("update"))
    assert response.status_code == 400 and response.json()["error"]["fields"] == {"plan": ["not read for pulumi"]}
    assert Provision.objects.count() == 0
