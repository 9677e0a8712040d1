"""The reads the pages, the dashboard and evidence packs use: open findings by service,
environment and organisation, the dashboard counts, findings open in a period, baseline versions
and their diff — each at a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.environments import config_selectors as selectors
from apps.environments.models import ConfigBaseline, DriftFinding

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def finding(service, env, key, *, first_seen, resolved_at=None, must_match=False, kind="changed"):
    return DriftFinding.objects.create(
        service=service, environment=env, key=key, kind=kind, expected="a", observed="b", must_match=must_match,
        first_seen=first_seen, last_seen=first_seen, status="resolved" if resolved_at else "open",
        resolution="reverted" if resolved_at else "", resolved_at=resolved_at)


@pytest.fixture
def findings(service, environments):
    return {
        "open_prod": finding(service, environments["prod"], "A", first_seen=T0, must_match=True),
        "open_staging": finding(service, environments["staging"], "B", first_seen=T0 + timedelta(days=1)),
        "stale": finding(service, environments["staging"], "", first_seen=T0, kind="stale"),
        "resolved_early": finding(service, environments["prod"], "C", first_seen=T0 - timedelta(days=30),
                                  resolved_at=T0 - timedelta(days=20)),
        "resolved_in": finding(service, environments["prod"], "D", first_seen=T0 - timedelta(days=30),
                               resolved_at=T0 + timedelta(days=2)),
    }


def test_open_findings_by_service_environment_and_organisation(findings, service, environments,
                                                                django_assert_num_queries):
    with django_assert_num_queries(1):
        assert {f.key for f in selectors.open_findings_for_service(service)} == {"A", "B", ""}
    assert {f.key for f in selectors.open_findings_for_environment(environments["staging"])} == {"B", ""}
    assert {f.key for f in selectors.open_findings()} == {"A", "B", ""}
    with django_assert_num_queries(1):
        assert selectors.open_drift_counts() == {"open": 3, "blocking": 1, "stale": 1, "services": 1}


def test_findings_open_in_a_period_for_evidence(findings, service):
    period = {"start": T0, "end": T0 + timedelta(days=5)}
    assert {f.key for f in selectors.findings_open_in_period(**period)} == {"A", "B", "", "D"}
    before = {"start": T0 - timedelta(days=60), "end": T0 - timedelta(days=40)}
    assert list(selectors.findings_open_in_period(**before)) == []
    assert {f.key for f in selectors.findings_open_in_period(service=service, **period)} == {"A", "B", "", "D"}


def test_baseline_versions_and_their_diff(service, environments, config_change_row):
    change = config_change_row
    v1 = ConfigBaseline.objects.create(service=service, environment=environments["staging"], version=1,
                                       status="superseded", change=change, settings={
                                           "A": {"value": "1", "secret": False, "must_match": True},
                                           "B": {"value": "x", "secret": False, "must_match": False}})
    v2 = ConfigBaseline.objects.create(service=service, environment=environments["staging"], version=2,
                                       status="approved", change=change, settings={
                                           "A": {"value": "2", "secret": False, "must_match": True},
                                           "C": {"value": "vault://c", "secret": True, "must_match": False}})
    assert [b.version for b in selectors.baseline_versions(service=service, environment=environments["staging"])] == [
        2, 1]
    rows = {r["key"]: r["change"] for r in selectors.baseline_diff(v1, v2)}
    assert rows == {"A": "changed", "B": "removed", "C": "added"}
    assert {r["change"] for r in selectors.baseline_diff(None, v1)} == {"added"}
    summary = selectors.baseline_summary(service=service, environment=environments["staging"])
    assert summary["version"] == 2 and summary["pending"] is None


@pytest.fixture
def config_change_row(service, environments, requester):
    from apps.change_types.models import ChangeType
    from apps.changes.models import ChangeRequest

    change_type = ChangeType.objects.create(slug="config-x", name="Config", requires_peer_review=True)
    return ChangeRequest.objects.create(title="c", change_type=change_type, service=service,
                                        environment=environments["staging"], requester=requester)
