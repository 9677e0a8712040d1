# ruff: noqa: F811
"""The gate checks what a pipeline template requires, not only which version a run used: evidence
kinds the version requires and the artifact lacks give `pipeline_template_evidence_missing`,
naming them — a warning outside production, a denial in production (the template's policy)."""

from __future__ import annotations

import pytest

from apps.releases import templates_services as templates
from tests.delivery.test_gate import check, deny_codes, good_artifact  # noqa: F401  (fixtures)
from tests.releases.test_templates import gate, registry  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
CODE = "pipeline_template_evidence_missing"


def _reason(result):
    return next((r for r in result["reasons"] if r["code"] == CODE), None)


@pytest.fixture
def strict(release_manager, make_change, service, registry):
    """standard@4 (approved, adopted) requires junit, sarif, another file and a log."""
    template, _ = registry
    version = templates.template_version_propose(
        template=template, version="4", change=make_change(state="approved"), actor=release_manager,
        required_stages=["build"], required_evidence_kinds=["junit", "sarif", "other", "log"])
    version = templates.template_version_approve(version=version, actor=release_manager)
    templates.template_adopt(service=service, version=version, actor=release_manager)
    return version


def test_missing_evidence_is_denied_in_production_naming_the_kinds(gate, good_artifact, make_change, strict):
    result = gate(good_artifact, make_change(), version="4")
    assert result["decision"] == "deny" and deny_codes(result) == {CODE}
    message = _reason(result)["message"]
    assert "standard@4" in message and "other, log" in message and "junit" not in message.split(":")[-1]


def test_outside_production_it_warns(gate, make_artifact, make_change, strict):
    result = gate(make_artifact(), make_change(env="staging"), version="4", env="staging")
    reason = _reason(result)
    assert reason["severity"] == "warn" and CODE not in deny_codes(result)
    assert "junit, sarif, other, log" in reason["message"]


def test_with_every_kind_required_the_gate_allows(gate, good_artifact, make_change, strict):
    from apps.delivery.models import Evidence

    Evidence.objects.create(artifact=good_artifact, kind="other", summary={})
    Evidence.objects.create(artifact=good_artifact, kind="log", summary={})
    result = gate(good_artifact, make_change(), version="4")
    assert _reason(result) is None and result["decision"] == "allow", result["reasons"]


def test_the_version_the_run_used_decides(gate, make_artifact, make_change, registry):
    """standard@2 (adopted) requires junit only: an artifact with none is named for junit."""
    result = gate(make_artifact(), make_change(env="staging"), version="2", env="staging")
    assert "requires evidence the artifact does not have: junit." in _reason(result)["message"]
