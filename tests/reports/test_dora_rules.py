"""Hand-computed fixtures for every rule of METRICS.md (the figures in the comments are worked
out by hand, not by the code under test)."""

from __future__ import annotations

import pytest

from apps.reports import tiers
from apps.reports.periods import Month, weeks_of_month
from tests.factories import ServiceFactory

from .conftest import at

pytestmark = pytest.mark.django_db

HOUR = 3600


def test_weeks_belong_to_the_month_holding_their_thursday():
    # 2026-01-01 is a Thursday: the week of Mon 2025-12-29 is ISO 2026-W01 and counts in January.
    assert [d.isoformat() for d in weeks_of_month(Month(2026, 1))] == [
        "2025-12-29", "2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert [d.isoformat() for d in weeks_of_month(Month(2025, 12))] == [
        "2025-12-01", "2025-12-08", "2025-12-15", "2025-12-22"]


def test_deployment_days_per_iso_week_across_a_year_boundary(service, deploy, dora_for):
    # ISO 2026-W01 (Mon 29 Dec – Sun 4 Jan): 30 Dec, 31 Dec, 2 Jan -> 3 deployment days.
    for day in ("2025-12-30 10:00", "2025-12-31 10:00", "2026-01-02 10:00"):
        deploy(service, day)
    # W02: two deployments on one day -> 1 day. W03: none. W04: Tue-Sat -> 5 days. W05: none.
    deploy(service, "2026-01-06 09:00")
    deploy(service, "2026-01-06 15:00")
    for day in range(20, 25):
        deploy(service, f"2026-01-{day} 12:00")
    deploy(service, "2026-01-08 12:00", status="failed")  # not a deployment day: it did not succeed

    jan = dora_for("2026-01")["deployment_frequency"]
    # weeks [3, 1, 0, 5, 0] -> median 1; January's succeeded deployments: 2 Jan, 2 x 6 Jan, 20-24 Jan.
    assert jan == {"count": 8, "per_day": round(8 / 31, 4), "median_deploy_days_per_week": 1.0,
                   "deployment_days": 7, "tier": "high"}
    dec = dora_for("2025-12")["deployment_frequency"]
    # December's weeks (1, 8, 15, 22 Dec) are all empty; 2 deployment days in the month -> medium.
    assert dec == {"count": 2, "per_day": round(2 / 31, 4), "median_deploy_days_per_week": 0.0,
                   "deployment_days": 2, "tier": "medium"}


def test_median_days_per_week_is_interpolated_for_an_even_number_of_weeks(service, deploy, dora_for):
    # February 2026 holds four weeks (Mondays 2, 9, 16, 23 Feb): days [2, 0, 1, 5] -> median 1.5.
    for when in ("2026-02-02 10:00", "2026-02-03 10:00", "2026-02-18 10:00",
                 "2026-02-23 10:00", "2026-02-24 10:00", "2026-02-25 10:00", "2026-02-26 10:00", "2026-02-27 10:00"):
        deploy(service, when)
    assert dora_for("2026-02")["deployment_frequency"]["median_deploy_days_per_week"] == 1.5


def test_a_commit_shipped_twice_is_counted_once(service, deploy, dora_for):
    deploy(service, "2026-10-05 12:00", commits=[("c1", "2026-10-05 10:00")])  # c1: 2 h
    deploy(service, "2026-10-05 15:00", commits=[("c1", "2026-10-05 10:00"), ("c2", "2026-10-05 11:00")])  # c2: 4 h
    # A failed deployment does not ship: c3 ships with the next success, 6 h after authoring.
    deploy(service, "2026-10-06 10:00", status="failed", commits=[("c3", "2026-10-06 08:00")])
    deploy(service, "2026-10-06 14:00", commits=[("c3", "2026-10-06 08:00")])
    # The same sha in another service is another commit (1 h).
    other = ServiceFactory(slug="ledger", owner_team=service.owner_team)
    deploy(other, "2026-10-07 10:00", commits=[("c1", "2026-10-07 09:00")])

    lead = dora_for("2026-10")["lead_time"]
    # leads [1 h, 2 h, 4 h, 6 h] -> median 3 h; p90 = 4 h + 0.7 x 2 h = 5.4 h
    assert lead == {"median_seconds": 3 * HOUR, "p90_seconds": 5.4 * HOUR, "count": 4, "negative_excluded": 0,
                    "tier": "elite"}


def test_lead_time_counts_in_the_month_of_the_delivering_deployment(service, deploy, dora_for):
    deploy(service, "2026-11-02 10:00", commits=[("c1", "2026-10-20 10:00")])
    assert dora_for("2026-10")["lead_time"]["count"] == 0
    nov = dora_for("2026-11")["lead_time"]
    assert (nov["count"], nov["median_seconds"], nov["tier"]) == (1, 13 * 24 * HOUR, "medium")


def test_negative_lead_times_are_excluded_and_counted_as_warnings(service, deploy):
    from apps.reports.metrics import compute_report

    deploy(service, "2026-10-05 12:00", commits=[("good", "2026-10-05 11:00"), ("future", "2026-10-05 13:00")])
    report = compute_report(Month(2026, 10))
    lead = report.summary()["lead_time"]
    assert (lead["count"], lead["median_seconds"], lead["negative_excluded"]) == (1, HOUR, 1)
    assert report.quality()["negative_lead_times"] == 1


def test_explicit_and_inferred_incident_links(service, deploy, incident, dora_for):
    a = deploy(service, "2026-10-05 10:00")
    b = deploy(service, "2026-10-05 12:00")
    deploy(service, "2026-10-05 14:00")
    deploy(service, "2026-10-05 09:00", status="rolled_back")  # failed by its status
    incident(service, "2026-10-05 13:00", "2026-10-05 13:30")  # inferred: B, the last success before 13:00
    incident(service, "2026-10-05 15:00", "2026-10-05 16:00", caused_by=a)  # explicit: A
    # Started exactly when B finished: B did not finish *before* it, so it goes to A.
    incident(service, "2026-10-05 12:00", "2026-10-05 12:30")

    cfr = dora_for("2026-10")["change_failure_rate"]
    # failed: A (2 incidents), B (1), the rolled-back one; total 4 -> 75 %
    assert cfr == {"failed": 3, "total": 4, "rate": 0.75, "tier": "low"}

    from apps.reports.metrics import compute_report

    links = compute_report(Month(2026, 10)).prep.links.set_index("started_at")
    assert links.loc[at("2026-10-05 13:00"), ["deployment_id", "link"]].tolist() == [b.pk, "inferred"]
    assert links.loc[at("2026-10-05 15:00"), ["deployment_id", "link"]].tolist() == [a.pk, "explicit"]
    assert links.loc[at("2026-10-05 12:00"), ["deployment_id", "link"]].tolist() == [a.pk, "inferred"]


def test_an_incident_with_nothing_before_it_is_not_linked_and_is_reported(service, deploy, incident):
    from apps.reports.metrics import compute_report

    deploy(service, "2026-10-05 12:00")
    incident(service, "2026-10-05 11:00", "2026-10-05 11:30")
    report = compute_report(Month(2026, 10))
    assert report.summary()["change_failure_rate"]["failed"] == 0
    assert report.quality()["incidents_without_deployment"] == 1


def test_a_suppressed_link_is_no_link_and_is_not_inferred(service, deploy, incident, dora_for):
    deploy(service, "2026-10-05 10:00")
    incident(service, "2026-10-05 11:00", "2026-10-05 12:00", link_suppressed=True)
    assert dora_for("2026-10")["change_failure_rate"]["failed"] == 0


def test_recovery_by_the_next_success_or_by_incident_resolution(service, deploy, incident, dora_for):
    # Failed at 10:00, the next succeeded production deployment of the service at 10:30: 30 min.
    deploy(service, "2026-10-05 10:00", status="failed")
    deploy(service, "2026-10-05 10:30")
    # Succeeded at 12:00 but caused two incidents: failure at the first start (12:20),
    # restoration at the last resolution (14:00): 100 min; the success at 13:00 does not count.
    g = deploy(service, "2026-10-05 12:00")
    incident(service, "2026-10-05 12:20", "2026-10-05 13:20", caused_by=g)
    incident(service, "2026-10-05 12:40", "2026-10-05 14:00", caused_by=g)
    deploy(service, "2026-10-05 13:00")

    rt = dora_for("2026-10")["recovery_time"]
    assert rt == {"median_seconds": (1800 + 6000) / 2, "count": 2, "unrestored": 0, "tier": "high"}


def test_a_failure_with_an_incident_is_restored_by_the_incident_not_the_next_success(service, deploy, incident, dora_for):
    f = deploy(service, "2026-10-05 10:00", status="failed")
    deploy(service, "2026-10-05 10:10")
    incident(service, "2026-10-05 09:50", "2026-10-05 13:00", caused_by=f)
    # from its finish (10:00, status failed) to the incident's resolution (13:00)
    assert dora_for("2026-10")["recovery_time"]["median_seconds"] == 3 * HOUR


def test_unrestored_failures_are_listed_not_averaged(service, deploy, incident, dora_for):
    deploy(service, "2026-10-05 10:00", status="failed")  # no success after it
    other = ServiceFactory(slug="ledger", owner_team=service.owner_team)
    ok = deploy(other, "2026-10-06 10:00")
    incident(other, "2026-10-06 11:00", None, caused_by=ok)  # still open
    bad = deploy(other, "2026-10-07 10:00", status="failed")
    deploy(other, "2026-10-07 12:00")  # restores `bad` after 2 h
    rt = dora_for("2026-10")["recovery_time"]
    assert rt == {"median_seconds": 2 * HOUR, "count": 1, "unrestored": 2, "tier": "high"}
    assert bad.pk


def test_recovery_counts_in_the_month_of_the_failure(service, deploy, incident, dora_for):
    d = deploy(service, "2026-10-31 20:00")
    incident(service, "2026-11-01 02:00", "2026-11-01 03:00", caused_by=d)
    oct_, nov = dora_for("2026-10"), dora_for("2026-11")
    assert oct_["change_failure_rate"]["failed"] == 1  # the deployment finished in October
    assert oct_["recovery_time"]["count"] == 0
    assert (nov["recovery_time"]["count"], nov["recovery_time"]["median_seconds"]) == (1, HOUR)


def test_rework_is_hotfixes_rollbacks_and_emergency_changes(service, deploy, change, dora_for):
    deploy(service, "2026-10-05 10:00")
    deploy(service, "2026-10-05 11:00", kind="hotfix")
    deploy(service, "2026-10-05 12:00", kind="rollback", status="rolled_back")
    deploy(service, "2026-10-05 13:00", change=change(service, "emergency"))
    deploy(service, "2026-10-05 14:00", change=change(service, "normal"))
    assert dora_for("2026-10")["rework_rate"] == {"rework": 3, "total": 5, "rate": 0.6}


def test_only_finished_production_deployments_count(service, deploy, environments, dora_for):
    from apps.reports.metrics import compute_report

    deploy(service, "2026-10-05 10:00")
    deploy(service, "2026-10-05 11:00", env=environments["staging"])
    deploy(service, None, status="in_progress", started="2026-10-05 12:00")
    deploy(service, None, status="succeeded", started="2026-10-05 13:00")  # no finish time
    summary = dora_for("2026-10")
    assert summary["deployment_frequency"]["count"] == 1
    assert summary["change_failure_rate"]["total"] == 1
    quality = compute_report(Month(2026, 10)).quality()
    assert (quality["unfinished_deployments"], quality["deployments_without_finish_time"]) == (1, 1)


def test_month_boundaries_follow_the_report_timezone(settings, service, deploy, dora_for):
    settings.REPORT_TIMEZONE = "Europe/Berlin"
    deploy(service, "2026-09-30 22:30")  # 1 Oct 00:30 CEST -> October
    deploy(service, "2026-10-31 22:30")  # 31 Oct 23:30 CET (after the DST change) -> October
    deploy(service, "2026-10-31 23:30")  # 1 Nov 00:30 CET -> November
    summary = dora_for("2026-10")
    assert summary["timezone"] == "Europe/Berlin"
    assert summary["period_start"] == "2026-09-30T22:00:00+00:00"
    assert summary["period_end"] == "2026-10-31T23:00:00+00:00"
    assert summary["deployment_frequency"]["count"] == 2
    assert summary["deployment_frequency"]["deployment_days"] == 2
    assert dora_for("2026-11")["deployment_frequency"]["count"] == 1
    settings.REPORT_TIMEZONE = "UTC"
    assert dora_for("2026-10")["deployment_frequency"]["count"] == 2  # 30 Sep 22:30 UTC is September


def test_an_empty_month_has_counts_of_zero_and_no_medians(service, dora_for):
    summary = dora_for("2026-10")
    assert summary["deployment_frequency"] == {"count": 0, "per_day": 0.0, "median_deploy_days_per_week": 0.0,
                                               "deployment_days": 0, "tier": "low"}
    assert summary["lead_time"] == {"median_seconds": None, "p90_seconds": None, "count": 0, "negative_excluded": 0,
                                    "tier": None}
    assert summary["change_failure_rate"] == {"failed": 0, "total": 0, "rate": None, "tier": None}
    assert summary["recovery_time"] == {"median_seconds": None, "count": 0, "unrestored": 0, "tier": None}
    assert summary["rework_rate"] == {"rework": 0, "total": 0, "rate": None}


def test_team_figures_aggregate_the_services_the_team_owns(service, other_team, deploy, dora_for):
    deploy(service, "2026-10-05 10:00")
    theirs = ServiceFactory(slug="auth", owner_team=other_team)
    deploy(theirs, "2026-10-05 11:00", status="failed")
    assert dora_for("2026-10", team="payments")["change_failure_rate"]["total"] == 1
    assert dora_for("2026-10", team="identity")["change_failure_rate"]["failed"] == 1
    assert dora_for("2026-10", service="auth")["scope"] == {"type": "service", "slug": "auth", "name": theirs.name,
                                                             "team": "identity"}
    assert dora_for("2026-10")["change_failure_rate"]["total"] == 2


B = tiers.BENCHMARKS[2023]


@pytest.mark.parametrize(("median", "days", "tier"), [
    (5, 20, "elite"), (4.5, 20, "high"), (1, 4, "high"), (0.5, 2, "medium"), (0, 1, "medium"), (0, 0, "low")])
def test_deployment_frequency_tier_edges(median, days, tier):
    assert tiers.deployment_frequency_tier(median, days, B) == tier


@pytest.mark.parametrize(("seconds", "tier"), [
    (86399, "elite"), (86400, "high"), (7 * 86400 - 1, "high"), (7 * 86400, "medium"), (30 * 86400, "low")])
def test_lead_time_tier_edges(seconds, tier):
    assert tiers.lead_time_tier(seconds, B) == tier


@pytest.mark.parametrize(("rate", "tier"), [
    (0.0, "elite"), (0.05, "elite"), (0.0501, "high"), (0.10, "high"), (0.15, "medium"), (0.1501, "low")])
def test_change_failure_tier_edges(rate, tier):
    assert tiers.change_failure_tier(rate, B) == tier


@pytest.mark.parametrize(("seconds", "tier"), [
    (3599, "elite"), (3600, "high"), (86400, "medium"), (7 * 86400 - 1, "medium"), (7 * 86400, "low")])
def test_recovery_tier_edges(seconds, tier):
    assert tiers.recovery_tier(seconds, B) == tier


def test_the_benchmark_year_is_a_parameter(service, deploy, dora_for):
    deploy(service, "2026-10-05 12:00", commits=[("c1", "2026-10-05 10:00")])  # 2 h
    assert dora_for("2026-10")["lead_time"]["tier"] == "elite"
    summary = dora_for("2026-10", benchmark_year=2021)
    assert (summary["benchmark_year"], summary["lead_time"]["tier"]) == (2021, "high")
