"""The releases demo: two trains, a regulated release in progress with a signed scope exception and
its first wave shipped, a shipped storefront release; run twice, same rows."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_trains_and_releases_idempotently(roles_ready):
    from django.core.management import call_command

    from apps.releases.models import (
        CheckpointWaiver,
        Release,
        ReleaseChange,
        ReleaseTrain,
        ScopeException,
        ServiceDependency,
    )

    call_command("seed_demo", verbosity=0)
    counts = [m.objects.count() for m in (ReleaseTrain, Release, ReleaseChange, ScopeException, ServiceDependency,
                                          CheckpointWaiver)]
    trains = {t.slug: t for t in ReleaseTrain.objects.all()}
    assert trains["regulated"].cadence == "quarterly" and trains["regulated"].reason == "regulatory"
    assert trains["storefront"].cadence == "continuous"
    regulated = Release.objects.get(train__slug="regulated")
    assert regulated.state == "in_progress"
    exception = ScopeException.objects.get(release=regulated)
    assert exception.state == "used" and exception.signoffs.count() == 3
    assert ReleaseChange.objects.filter(release=regulated, after_lock=True).count() == 1
    assert regulated.plan["waves"][0]  # ledger and card-vault first
    assert Release.objects.filter(train__slug="storefront", state="released").exists()
    from apps.releases.models import RetroAction

    # A retrospective whose action produced a gate rule (shipped: the rule is live), and a
    # monitoring action naming its health check as service/environment:metric.
    assert RetroAction.objects.filter(link_kind="gate_rule", link_ref="releases.dependencies", status="shipped").exists()
    assert RetroAction.objects.filter(type="monitoring_coverage", link_ref__regex=r"^[-\w]+/[-\w]+:\w+$").exists()
    call_command("seed_demo", verbosity=0)
    assert [m.objects.count() for m in (ReleaseTrain, Release, ReleaseChange, ScopeException, ServiceDependency,
                                        CheckpointWaiver)] == counts
