"""Environments test fixtures: the delivery fixtures (changes, artifacts, the pipeline), real
Terraform plans from ../shared/fixtures/terraform/, and plans made destructive from them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.delivery import conftest as delivery_fixtures

change_type = delivery_fixtures.change_type
deployer = delivery_fixtures.deployer
make_artifact = delivery_fixtures.make_artifact
make_change = delivery_fixtures.make_change
pipeline = delivery_fixtures.pipeline
promoted = delivery_fixtures.promoted
prod_policy = delivery_fixtures.prod_policy
ed25519_key = delivery_fixtures.ed25519_key


def _shared_fixtures() -> Path | None:
    """../shared/fixtures beside the checkout (a worktree sits one level deeper than the main repo)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures"
        if candidate.is_dir():
            return candidate
    return None


def shared_fixture(relative: str) -> Path:
    root = _shared_fixtures()
    if root is None or not (root / relative).exists():
        pytest.skip(f"../shared/fixtures/{relative} is not available")
    return root / relative


def real_plan(name: str) -> dict:
    return json.loads(shared_fixture(f"terraform/{name}.plan.json").read_text())


def with_actions(plan: dict, actions_by_address: dict[str, list[str]]) -> dict:
    """A copy of a real plan with some resources' actions changed (a delete, a replace)."""
    plan = copy.deepcopy(plan)
    for entry in plan["resource_changes"]:
        if entry["address"] in actions_by_address:
            entry["change"]["actions"] = actions_by_address[entry["address"]]
    return plan


@pytest.fixture
def post_provision(pipeline):
    def post(env="prod", client=None, **body):
        body.setdefault("tool", "terraform")
        body.setdefault("status", "applied")
        body.setdefault("repository", "git@example.com:infra/live.git")
        body.setdefault("git_sha", "c" * 40)
        body.setdefault("pipeline_run_id", "tf-1")
        return (client or pipeline).post(f"/api/v1/environments/{env}/provisions/", body, format="json")

    return post


@pytest.fixture
def post_applied(pipeline):
    def post(migrations, env="staging", service="payments-api", tool="flyway", client=None, **extra):
        body = {"service": service, "environment": env, "tool": tool, "migrations": migrations, **extra}
        return (client or pipeline).post("/api/v1/migrations/applied/", body, format="json")

    return post


def migration(version, checksum="c1", status="success", description="add column", applied_at=None):
    m = {"version": version, "description": description, "checksum": checksum, "status": status}
    if applied_at:
        m["applied_at"] = applied_at
    return m
