"""Artifact retention: the keep/purge list the artifact repository consumes. Legal holds win;
production artifacts are kept for their service's compliance-scope retention from their last
production deployment; builds never promoted expire after ARTIFACT_UNPROMOTED_DAYS; a build
running now is kept. The clock is pinned."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from apps.audit.retention import legal_hold_place
from apps.delivery.models import Artifact, Deployment

pytestmark = pytest.mark.django_db

NOW = "2026-11-18 12:00"
_n = itertools.count(1)


@pytest.fixture
def now(clock, settings):
    settings.ARTIFACT_UNPROMOTED_DAYS = 90
    return clock(NOW)


@pytest.fixture
def build(service):
    def make(*, days_ago, svc=None, size=1000):
        n = next(_n)
        return Artifact.objects.create(service=svc or service, version=f"1.{n}.0", digest="sha256:" + f"{n:064x}",
                                       format="oci_image", size=size,
                                       created_at=dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC) - dt.timedelta(days=days_ago))
    return make


@pytest.fixture
def ship(environments):
    def make(artifact, *, days_ago, env="prod"):
        at = dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC) - dt.timedelta(days=days_ago)
        return Deployment.objects.create(service=artifact.service, environment=environments[env], artifact=artifact,
                                         version=artifact.version, status="succeeded", started_at=at,
                                         finished_at=at + dt.timedelta(minutes=5))
    return make


@pytest.fixture
def reader(api_client_for, service_account):
    return api_client_for(service_account, ["delivery:read"])


def _by_version(body):
    return {row["version"]: row for row in body["artifacts"]}


@pytest.fixture
def estate(now, build, ship, team):
    """sox+pci payments-api and a HIPAA-only clinic service, with one artifact per rule."""
    from tests.factories import ServiceFactory

    clinic = ServiceFactory(slug="clinic", owner_team=team, compliance_scopes=["hipaa"])
    a = {
        "prod_recent": build(days_ago=800),        # in production 2 years ago: SOX 7 years
        "prod_old": build(days_ago=3000),          # last in production 8 years ago: retention ended
        "hipaa_old": build(days_ago=2500, svc=clinic),   # HIPAA 6 years: ended
        "sox_same_age": build(days_ago=2500),      # SOX 7 years: same age, still kept
        "unpromoted_old": build(days_ago=100, size=5000),
        "unpromoted_new": build(days_ago=10),
        "staging_running": build(days_ago=120),
        "unknown_size": build(days_ago=200, size=None),
    }
    ship(a["prod_recent"], days_ago=730)
    ship(a["prod_old"], days_ago=2950)
    ship(a["hipaa_old"], days_ago=2400)
    ship(a["sox_same_age"], days_ago=2400)
    newer = build(days_ago=5)                       # now running in production: kept as recent production
    ship(newer, days_ago=1)
    ship(a["staging_running"], days_ago=100, env="staging")
    a["newer"] = newer
    clinic_now = build(days_ago=3, svc=clinic)
    ship(clinic_now, days_ago=2)
    a["clinic_now"] = clinic_now
    return a


def test_each_rule_decides_keep_or_purge_with_its_reason(reader, estate):
    body = reader.get("/api/v1/artifact-retention/").json()
    rows = _by_version(body)
    expect = {
        "prod_recent": ("keep", "production_retention"), "prod_old": ("purge", "production_retention_ended"),
        "hipaa_old": ("purge", "production_retention_ended"), "sox_same_age": ("keep", "production_retention"),
        "unpromoted_old": ("purge", "unpromoted_expired"), "unpromoted_new": ("keep", "recent_build"),
        "staging_running": ("keep", "deployed"), "unknown_size": ("purge", "unpromoted_expired"),
        "newer": ("keep", "production_retention"), "clinic_now": ("keep", "production_retention"),
    }
    for name, (decision, reason) in expect.items():
        row = rows[estate[name].version]
        assert (row["decision"], row["reason"]) == (decision, reason), (name, row)
    assert rows[estate["prod_recent"].version]["keep_until"].startswith("2031-11-18")
    assert "hipaa" in rows[estate["hipaa_old"].version]["detail"]


def test_the_list_names_the_storage_it_frees(reader, estate):
    body = reader.get("/api/v1/artifact-retention/").json()
    # prod_old 1000 + hipaa_old 1000 + unpromoted_old 5000; unknown_size counted apart.
    assert body["total_storage_freed"] == 7000
    assert body["storage_freed"] == {"bytes": 7000, "artifacts": 4, "artifacts_of_unknown_size": 1}
    assert body["unpromoted_days"] == 90
    row = _by_version(body)[estate["unpromoted_old"].version]
    assert set(row) >= {"digest", "service", "version", "decision", "reason", "size"}
    assert row["digest"] == estate["unpromoted_old"].digest and row["size"] == 5000


def test_a_legal_hold_wins(reader, estate, superuser, service):
    legal_hold_place(actor=superuser, title="Case 9", reason="Counsel", service=service)
    rows = _by_version(reader.get("/api/v1/artifact-retention/").json())
    for name in ("prod_old", "unpromoted_old", "unknown_size"):
        assert (rows[estate[name].version]["decision"], rows[estate[name].version]["reason"]) == ("keep", "legal_hold")
    # The clinic is not under the hold.
    assert rows[estate["hipaa_old"].version]["decision"] == "purge"


def test_a_hold_on_the_artifact_record_class_or_one_artifact_wins(reader, estate, superuser):
    legal_hold_place(actor=superuser, title="One", reason="r", records=[f"artifact:{estate['hipaa_old'].pk}"])
    rows = _by_version(reader.get("/api/v1/artifact-retention/").json())
    assert rows[estate["hipaa_old"].version]["reason"] == "legal_hold"
    assert rows[estate["prod_old"].version]["decision"] == "purge"


def test_the_unpromoted_expiry_is_a_setting(reader, estate, settings):
    settings.ARTIFACT_UNPROMOTED_DAYS = 365
    rows = _by_version(reader.get("/api/v1/artifact-retention/").json())
    assert rows[estate["unpromoted_old"].version]["decision"] == "keep"


def test_filters_by_decision_and_service(reader, estate):
    body = reader.get("/api/v1/artifact-retention/?decision=purge&service=clinic").json()
    assert [row["version"] for row in body["artifacts"]] == [estate["hipaa_old"].version]
    assert reader.get("/api/v1/artifact-retention/?decision=maybe").status_code == 400


def test_an_outsider_gets_nothing(api_client_for, outsider, estate):
    response = api_client_for(outsider).get("/api/v1/artifact-retention/")
    assert response.status_code in (401, 403)
    assert "artifacts" not in response.json()


def test_the_list_costs_a_fixed_number_of_queries(reader, estate, build, ship, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert reader.get("/api/v1/artifact-retention/").status_code == 200
    for n in range(30):
        artifact = build(days_ago=n * 50)
        if n % 3 == 0:
            ship(artifact, days_ago=n * 40)
    with django_assert_max_num_queries(6):
        body = reader.get("/api/v1/artifact-retention/").json()
    assert len(body["artifacts"]) == 40


def test_a_production_build_still_running_is_kept_past_its_retention(reader, now, build, ship, team):
    from tests.factories import ServiceFactory

    legacy = ServiceFactory(slug="legacy", owner_team=team, compliance_scopes=["hipaa"])
    old = build(days_ago=3000, svc=legacy)
    ship(old, days_ago=2990)
    (row,) = reader.get("/api/v1/artifact-retention/?service=legacy").json()["artifacts"]
    assert (row["decision"], row["reason"]) == ("keep", "production_retention")
