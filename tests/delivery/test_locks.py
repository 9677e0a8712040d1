"""Deployment locks under contention: 20 simultaneous gate checks, exactly one allow."""

from __future__ import annotations

import pytest

from apps.delivery import services
from apps.delivery.models import DeploymentLock, GateDecision
from tests.concurrency import race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_checks_yield_exactly_one_allow(make_artifact, promoted, make_change, deployer):
    artifact = make_artifact()
    promoted(artifact)
    change = make_change()

    def ask(_):
        return services.gate_check(service=artifact.service, environment=change.environment,
                                   artifact_ref=artifact.digest, change_ref=change.number, actor=deployer).decision

    results = race(20, ask)
    assert sorted(results).count("allow") == 1
    assert len(results) == 20
    assert DeploymentLock.objects.count() == 1
    denied = GateDecision.objects.filter(decision="deny")
    assert denied.count() == 19
    assert all([r["code"] for r in d.reasons if r["severity"] == "deny"] == ["deployment_in_progress"]
               for d in denied)
