"""Deployment locks under contention: 20 simultaneous gate checks, exactly one allow."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.delivery import services
from apps.delivery.models import DeploymentLock, GateDecision


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_checks_yield_exactly_one_allow(make_artifact, promoted, make_change, deployer):
    artifact = make_artifact()
    promoted(artifact)
    change = make_change()
    barrier = threading.Barrier(20)
    results: list[str] = []
    errors: list[BaseException] = []

    def ask():
        try:
            barrier.wait(timeout=30)
            decision = services.gate_check(service=artifact.service, environment=change.environment,
                                           artifact_ref=artifact.digest, change_ref=change.number, actor=deployer)
            results.append(decision.decision)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(results).count("allow") == 1
    assert len(results) == 20
    assert DeploymentLock.objects.count() == 1
    denied = GateDecision.objects.filter(decision="deny")
    assert denied.count() == 19
    assert all(d.reason_codes == ["deployment_in_progress"] for d in denied)
