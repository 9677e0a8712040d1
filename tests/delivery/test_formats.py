"""Artifact standards: the organisation's allowed packaging formats refuse a registration
(422 `format_not_allowed` naming `format`); an environment's refuse the gate, and no emergency
override bends that."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.delivery.models import Artifact, ArtifactStandard, EnvironmentPolicy

from .conftest import digest_of
from .test_gate import check, deny_codes, good_artifact  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _register(pipeline, fmt, version="2.0.0"):
    return pipeline.post("/api/v1/artifacts/", {"service": "payments-api", "version": version,
                                                "digest": digest_of(version + fmt), "format": fmt}, format="json")


def test_without_a_standard_every_format_registers(pipeline):
    assert _register(pipeline, "zip").status_code == 201


def test_a_format_outside_the_organisation_standard_is_refused_naming_the_field(pipeline):
    ArtifactStandard.objects.create(allowed_formats=["oci_image", "rpm"])
    response = _register(pipeline, "zip")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "format_not_allowed"
    assert "format" in error["fields"]
    assert not Artifact.objects.filter(version="2.0.0").exists()
    assert not AuditEvent.objects.filter(action="delivery.artifact_registered").exists()
    assert _register(pipeline, "rpm", version="2.0.1").status_code == 201


def test_unknown_formats_in_a_standard_are_refused():
    with pytest.raises(ValidationError):
        ArtifactStandard(allowed_formats=["tarball"]).full_clean()
    with pytest.raises(ValidationError):
        EnvironmentPolicy(allowed_formats="oci_image").clean()


def test_the_gate_refuses_a_format_the_environment_does_not_accept(check, good_artifact, make_change):  # noqa: F811
    EnvironmentPolicy.objects.filter(environment__slug="prod").update(allowed_formats=["rpm"])
    result = check(good_artifact, make_change())
    assert result["decision"] == "deny"
    assert deny_codes(result) == {"format_not_allowed"}
    (reason,) = [r for r in result["reasons"] if r["code"] == "format_not_allowed"]
    assert "oci_image" in reason["message"] and "rpm" in reason["message"]


def test_an_accepted_format_passes_the_gate(check, good_artifact, make_change):  # noqa: F811
    EnvironmentPolicy.objects.filter(environment__slug="prod").update(allowed_formats=["oci_image", "rpm"])
    assert check(good_artifact, make_change())["decision"] == "allow"


def test_an_emergency_override_does_not_waive_the_format(check, good_artifact, make_change, monkeypatch):  # noqa: F811
    from apps.delivery import gate

    EnvironmentPolicy.objects.filter(environment__slug="prod").update(allowed_formats=["rpm"])
    monkeypatch.setattr(gate, "active_emergency_override", lambda c: object())
    result = check(good_artifact, make_change(state="in_review"))
    # The override would waive the unapproved change, but not the format: nothing is waived.
    assert result["decision"] == "deny" and result["emergency_override"] is False
    assert deny_codes(result) == {"format_not_allowed", "change_not_approved"}
    assert "format_not_allowed" in gate.all_reason_codes()
