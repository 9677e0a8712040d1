"""Per-month snapshots: the cached figures are the recomputed figures, closed months are read
instead of recomputed, and data landing late in a closed month drops what it changes."""

from __future__ import annotations

import pandas as pd
import pytest

from apps.reports import dora, snapshots
from apps.reports.metrics import compute_report
from apps.reports.models import MetricSnapshot
from apps.reports.periods import Month
from apps.reports.scopes import ORGANISATION, resolve_scope

from .conftest import at

pytestmark = pytest.mark.django_db

OCT = Month(2026, 10)
# Which months are closed, recent or open depends on "now": the clock is pinned before any row
# is written (conftest.py), to this day unless a test parametrizes `today`.
TODAY = "2026-12-03 09:00"
COLUMNS = list(snapshots.FIGURE_COLUMNS) + list(dora.TIER_COLUMNS)


@pytest.fixture
def today() -> str:
    return TODAY


def _frame(table: pd.DataFrame) -> pd.DataFrame:
    return table[COLUMNS].sort_index().reset_index(drop=True)


def assert_same_figures(month: Month, scope=ORGANISATION) -> None:
    """The cached report equals a recomputation from the rows, field by field."""
    cached = snapshots.cached_report(month, scope)
    computed = compute_report(month, scope)
    pd.testing.assert_frame_equal(_frame(cached.trend), _frame(computed.trend), check_dtype=False)
    table = {"organisation": "teams", "team": "services"}.get(scope.level)
    if table:  # the table the page shows: teams of the organisation, services of a team
        pd.testing.assert_frame_equal(_frame(getattr(cached, table)), _frame(getattr(computed, table)),
                                      check_dtype=False)
    strip = {"data_as_of": None}
    assert {**cached.summary(), **strip} == {**computed.summary(), **strip}
    assert cached.quality() == computed.quality()


@pytest.fixture
def year(october, deploy, incident):
    """October plus a few earlier months, so the trend holds more than one month."""
    svc = october["payments"]
    deploy(svc, "2026-08-03 10:00", commits=[("y1", "2026-08-01 10:00")])
    deploy(svc, "2026-08-04 10:00", status="failed")
    deploy(svc, "2026-08-10 10:00", commits=[("y2", "2026-08-10 09:00")])
    incident(svc, "2026-09-02 10:00", "2026-09-02 12:00")  # inferred to the 20 Sept success
    return october


def test_cached_figures_equal_recomputation_for_every_scope(year):
    assert_same_figures(OCT)
    assert_same_figures(OCT)  # now from the stored snapshots
    assert_same_figures(OCT, resolve_scope(team="payments"))
    assert_same_figures(OCT, resolve_scope(team="identity"))
    assert_same_figures(OCT, resolve_scope(service="auth"))
    assert_same_figures(Month(2026, 9))


def test_closed_months_are_read_not_recomputed(year, monkeypatch):
    snapshots.cached_report(OCT)
    assert MetricSnapshot.objects.filter(level="organisation", period="2026-10").exists()
    assert MetricSnapshot.objects.filter(level="team").exists() and MetricSnapshot.objects.filter(level="service")

    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran for months that have snapshots")

    monkeypatch.setattr(snapshots, "load_dataset", refuse)
    report = snapshots.cached_report(OCT)
    assert report.summary()["deployment_frequency"]["count"] == 5
    # every team and service of the organisation was stored by the same pass
    snapshots.cached_report(OCT, resolve_scope(team="identity"))
    snapshots.cached_report(OCT, resolve_scope(service="payments-api"), breakdown=False)


def test_the_open_month_is_computed_live_and_never_stored(service, deploy):
    from django.utils import timezone

    now = timezone.now()
    current = Month(now.year, now.month)
    deploy(service, now.strftime("%Y-%m-%d %H:%M"))
    report = snapshots.cached_report(current, trend_months=2)
    assert report.summary()["deployment_frequency"]["count"] == 1
    assert not MetricSnapshot.objects.filter(period=current.label).exists()
    assert MetricSnapshot.objects.filter(period=current.previous().label, level="organisation").exists()
    deploy(service, now.strftime("%Y-%m-%d %H:%M"))
    assert snapshots.cached_report(current, trend_months=2).summary()["deployment_frequency"]["count"] == 2


def _stored(level="organisation", period="2026-10"):
    return MetricSnapshot.objects.filter(level=level, period=period).first()


def test_a_late_deployment_in_a_closed_month_is_counted(year, deploy):
    snapshots.cached_report(OCT)
    deploy(year["payments"], "2026-10-20 10:00", commits=[("late", "2026-10-19 10:00")])
    assert _stored() is None or _stored().figures["deployments"] == 5  # not yet swept
    assert snapshots.cached_report(OCT).summary()["deployment_frequency"]["count"] == 6
    assert _stored().figures["deployments"] == 6
    assert_same_figures(OCT)


def test_a_late_deployment_leaves_earlier_months_alone(year, deploy):
    snapshots.cached_report(OCT)
    august = _stored(period="2026-08")
    deploy(year["payments"], "2026-10-20 10:00")
    snapshots.cached_report(OCT)
    assert _stored(period="2026-08").pk == august.pk  # kept, not recomputed
    assert _stored(period="2026-10").computed_at > august.computed_at


def test_the_next_success_restores_a_failure_of_a_closed_month(service, deploy):
    deploy(service, "2026-10-30 10:00")
    deploy(service, "2026-10-31 10:00", status="failed")
    before = snapshots.cached_report(OCT).summary()["recovery_time"]
    assert (before["count"], before["unrestored"]) == (0, 1)
    deploy(service, "2026-11-02 10:00")  # restores it, in the following month
    after = snapshots.cached_report(OCT).summary()["recovery_time"]
    assert (after["count"], after["unrestored"], after["median_seconds"]) == (1, 0, 2 * 24 * 3600.0)
    assert_same_figures(OCT)


def test_an_incident_of_next_month_inferred_to_a_closed_month_counts_as_its_failure(service, deploy, incident):
    deploy(service, "2026-10-31 22:00")
    assert snapshots.cached_report(OCT).summary()["change_failure_rate"]["failed"] == 0
    incident(service, "2026-11-01 01:00", "2026-11-01 03:00")  # inferred to the 31 Oct success
    assert snapshots.cached_report(OCT).summary()["change_failure_rate"]["failed"] == 1
    assert_same_figures(OCT)


def test_resolving_an_incident_later_restores_the_failure_in_its_month(service, deploy, incident):
    d = deploy(service, "2026-10-10 10:00")
    open_incident = incident(service, "2026-10-10 11:00", None, caused_by=d)
    assert snapshots.cached_report(OCT).summary()["recovery_time"]["unrestored"] == 1
    open_incident.resolved_at = at("2026-10-10 15:00")
    open_incident.save()
    recovery = snapshots.cached_report(OCT).summary()["recovery_time"]
    assert (recovery["unrestored"], recovery["median_seconds"]) == (0, 4 * 3600.0)
    assert_same_figures(OCT)


def test_a_deployment_on_the_first_sunday_counts_in_the_week_of_the_previous_month(service, deploy):
    # Sun 1 Nov 2026 lies in ISO week Mon 26 Oct - Sun 1 Nov, whose Thursday is in October.
    for day in ("2026-10-26 10:00", "2026-10-27 10:00", "2026-10-28 10:00", "2026-10-29 10:00"):
        deploy(service, day)
    assert snapshots.cached_report(OCT).summary()["deployment_frequency"]["median_deploy_days_per_week"] == 0.0
    deploy(service, "2026-11-01 10:00")
    snapshots.cached_report(OCT)
    assert _stored().figures["deployment_days"] == 4  # the month's own days are unchanged ...
    assert_same_figures(OCT)  # ... and the week's median follows the new day


def test_a_service_changing_teams_moves_its_figures(year, team, other_team):
    snapshots.cached_report(OCT)
    auth = year["auth"]
    auth.owner_team = team
    auth.save()
    assert_same_figures(OCT, resolve_scope(team="identity"))
    assert_same_figures(OCT, resolve_scope(team="payments"))
    assert snapshots.cached_report(OCT).teams.loc[other_team.pk, "deployments"] == 0


def test_snapshots_are_per_timezone(settings, year):
    snapshots.cached_report(OCT)
    settings.REPORT_TIMEZONE = "Europe/Berlin"
    assert_same_figures(OCT)
    assert set(MetricSnapshot.objects.values_list("tz_name", flat=True)) == {"UTC", "Europe/Berlin"}


def test_a_snapshot_computed_before_a_row_could_commit_is_dropped(year, deploy, monkeypatch):
    """In production a row may commit up to MARGIN after its history date; a snapshot computed
    within that window is not trusted to have seen it."""
    from datetime import timedelta

    snapshots.cached_report(OCT)
    monkeypatch.setattr(snapshots, "MARGIN", timedelta(minutes=1))
    deploy(year["payments"], "2026-10-20 10:00")
    assert snapshots.cached_report(OCT).summary()["deployment_frequency"]["count"] == 6
    assert _stored() is None  # stored, then dropped again: a row of the last minute reaches October


def test_in_the_minute_after_a_write_its_months_are_computed_once_per_data_version(year, deploy, clock,
                                                                                 monkeypatch):
    """The snapshots a row of the last MARGIN reaches are stored and dropped again (above): the
    requests of that minute reuse one computation of the same rows instead of running the engine
    each time, and a further write is counted at once."""
    from datetime import timedelta

    snapshots.cached_report(OCT)
    clock("2026-12-03 09:05")  # the year's rows are older than the margin: only the new row reaches
    monkeypatch.setattr(snapshots, "MARGIN", timedelta(minutes=1))
    deploy(year["payments"], "2026-10-20 10:00")
    snapshots.cached_report(OCT)  # (the row reaches back to the service's first deployment)
    first = snapshots.cached_report(OCT)  # October from the recent rows: its snapshot dropped again
    assert first.summary()["deployment_frequency"]["count"] == 6 and _stored() is None

    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran again on the same rows")

    real = snapshots.load_window
    monkeypatch.setattr(snapshots, "load_window", refuse)
    strip = {"data_as_of": None}
    assert {**snapshots.cached_report(OCT).summary(), **strip} == {**first.summary(), **strip}
    monkeypatch.setattr(snapshots, "load_window", real)
    deploy(year["payments"], "2026-10-21 10:00")
    assert snapshots.cached_report(OCT).summary()["deployment_frequency"]["count"] == 7
    assert_same_figures(OCT)


def test_in_the_minute_after_an_environment_edit_the_whole_history_runs_once_per_data_version(
        year, prod, deploy, clock, monkeypatch):
    """An environment edit reaches every snapshot, so each request of the following minute read
    the whole history again (what a page does just after seed_demo); now once per data version."""
    from datetime import timedelta

    snapshots.cached_report(OCT)
    clock("2026-12-03 09:05")
    monkeypatch.setattr(snapshots, "MARGIN", timedelta(minutes=1))
    prod.name = "Production (EU)"
    prod.save()  # a history row: the production flag decides what counts at all
    first = snapshots.cached_report(OCT)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole history was read again for the same rows")

    real = snapshots.load_dataset
    monkeypatch.setattr(snapshots, "load_dataset", refuse)
    strip = {"data_as_of": None}
    assert {**snapshots.cached_report(OCT).summary(), **strip} == {**first.summary(), **strip}
    monkeypatch.setattr(snapshots, "load_dataset", real)
    deploy(year["payments"], "2026-10-21 10:00")
    assert snapshots.cached_report(OCT).summary()["deployment_frequency"]["count"] == 6


def test_the_beat_task_fills_the_closed_months_once(year):
    from apps.reports.schedules import BEAT
    from apps.reports.tasks import fill_metric_snapshots

    entry = next(e for e in BEAT.values() if e["task"] == "apps.reports.tasks.fill_metric_snapshots")
    assert entry["schedule"] is not None
    assert fill_metric_snapshots() == 13
    months = set(MetricSnapshot.objects.filter(level="organisation").values_list("period", flat=True))
    assert "2026-10" in months and len(months) == 13
    assert fill_metric_snapshots() == 0  # idempotent: nothing left to compute
    assert_same_figures(OCT)


@pytest.mark.parametrize(("today", "first", "last"), [
    ("2026-12-03 09:00", "2025-11", "2026-11"),  # early December: November just closed
    ("2027-01-04 09:00", "2025-12", "2026-12"),  # January: December, across the new year
    ("2026-11-02 09:00", "2025-10", "2026-10"),
])
def test_the_fill_stores_every_closed_month_in_every_month_of_the_year(year, first, last):
    expected = pd.period_range(first, last, freq="M").strftime("%Y-%m").tolist()
    assert snapshots.fill(months=13) == 13
    stored = MetricSnapshot.objects.filter(level="organisation", group_id=0)
    assert sorted(stored.values_list("period", flat=True)) == expected
    teams, services = (MetricSnapshot.objects.filter(level=level, period=last).count() for level in ("team", "service"))
    assert (teams, services) == (2, 2)
    assert snapshots.fill(months=13) == 0
    assert_same_figures(Month.parse(last))


def test_the_fill_reports_the_months_it_kept_not_the_months_it_computed(year, clock, monkeypatch):
    """The bench's "0 rows": the production environment was written less than MARGIN before the
    fill, which reaches every snapshot, so store() dropped all it had just stored while the fill
    said 13. It says 0 now, and stores them once the margin has passed."""
    from datetime import timedelta

    monkeypatch.setattr(snapshots, "MARGIN", timedelta(minutes=1))
    assert snapshots.fill(months=13) == 0  # the environments were written a moment ago
    assert not MetricSnapshot.objects.exists()
    clock("2026-12-03 09:05")
    assert snapshots.fill(months=13) == 13
    assert MetricSnapshot.objects.filter(level="organisation").count() == 13


def test_the_open_month_window_gives_the_figures_of_the_whole_history(year, deploy, incident, other_team):
    """compute_window (the open month's path) reads only the rows since a week before the month;
    over the same month it must agree with the engine over the whole history."""
    from django.utils import timezone

    from apps.reports import tiers
    from apps.reports.loading import load_dataset
    from apps.reports.periods import report_timezone
    from tests.factories import ServiceFactory

    pay, auth = year["payments"], year["auth"]
    # A commit first shipped in August (before the window) and again in October: counted once, in August.
    deploy(pay, "2026-08-20 10:00", commits=[("old", "2026-08-19 10:00")])
    deploy(pay, "2026-10-20 10:00", commits=[("old", "2026-08-19 10:00"), ("new", "2026-10-20 08:00")])
    # An October incident inferred to a September success, before the window.
    deploy(auth, "2026-09-10 10:00")
    incident(auth, "2026-10-03 10:00", "2026-10-03 12:00")
    # A success whose first incident was in September: its failure belongs to September even
    # though a second incident in October links to it too.
    ledger = ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    deploy(ledger, "2026-09-05 10:00")
    incident(ledger, "2026-09-06 10:00", "2026-09-06 11:00")
    incident(ledger, "2026-10-04 10:00", "2026-10-04 11:00")
    deploy(ledger, None, status="in_progress", started="2026-10-09 10:00")
    deploy(ledger, "2026-09-28 10:00", status="failed")  # restored in October by the next success
    deploy(ledger, "2026-10-02 10:00")

    tz = report_timezone("UTC")
    now = timezone.now()  # pinned (TODAY)
    for scope in (ORGANISATION, resolve_scope(team="payments"), resolve_scope(team="identity"),
                  resolve_scope(service="ledger")):
        for months in ([OCT], [Month(2026, 9), OCT]):
            windowed = snapshots.compute_window(scope, months, tz_name="UTC", now=now)
            prep = dora.prepare(load_dataset(service_ids=scope.service_ids(), as_of=now), months, tz)
            full = snapshots._aggregate_levels(prep, scope, tiers.benchmark())
            assert set(windowed) == set(full)
            for level in full:
                pd.testing.assert_frame_equal(windowed[level][COLUMNS], full[level][COLUMNS], check_dtype=False)
    october = snapshots.compute_window(ORGANISATION, [OCT], tz_name="UTC")["organisation"].loc[(0, "2026-10")]
    # p1, p2, p3 (by the hotfix), a1, new; not p4 (negative) and not "old" (shipped in August)
    assert october["lead_count"] == 5 and october["lead_negative"] == 1
    assert october["recovery_count"] >= 1 and october["unfinished"] == 1


def test_charts_are_drawn_once_per_set_of_values(year, monkeypatch):
    from django.core.cache import cache

    from apps.reports import charts

    cache.clear()
    drawn = []
    real = charts.trend_chart
    monkeypatch.setattr(charts, "trend_chart", lambda metric, trend: drawn.append(metric) or real(metric, trend))
    trend = snapshots.cached_report(OCT).trend
    first = charts.all_charts(trend)
    assert charts.all_charts(trend.copy()) == first and len(drawn) == 5
    changed = trend.copy()
    changed.loc["2026-10", "deployments"] += 1
    assert charts.all_charts(changed)["deployment_frequency"] != first["deployment_frequency"]
    assert len(drawn) == 10


def test_an_emergency_flag_edit_changes_rework_everywhere_and_only_once(service, deploy, change, change_types):
    deploy(service, "2026-10-05 10:00", change=change(service, "normal"))
    assert snapshots.cached_report(OCT).summary()["rework_rate"]["rework"] == 0
    normal = change_types["normal"]
    normal.is_emergency = True
    normal.save()
    assert snapshots.cached_report(OCT).summary()["rework_rate"]["rework"] == 1
    assert_same_figures(OCT)
    kept = _stored().pk
    snapshots.cached_report(OCT)  # the edit has been accounted for: the new snapshot stays
    assert _stored().pk == kept


# Last month with figures (October), and without any (November: no lead time, so no tier; the
# snapshot and the recomputation must both say None); in December and across the new year.
@pytest.mark.parametrize("today", ["2026-11-03 09:00", "2026-12-03 09:00", "2027-01-04 09:00"])
def test_late_data_in_last_month_is_recomputed_from_recent_rows_only(year, deploy, monkeypatch):
    from django.utils import timezone

    now = timezone.now()
    last_month = Month(now.year, now.month).previous()
    # The service's previous success is in the month before, so the late row reaches back no
    # further than the recent months (this one and the two before).
    deploy(year["payments"], f"{last_month.previous().label}-20 10:00")
    snapshots.cached_report(last_month)
    deploy(year["payments"], last_month.start(snapshots.report_timezone("UTC")).strftime("%Y-%m-%d") + " 10:00")

    def refuse(*args, **kwargs):
        raise AssertionError("the whole history was loaded for last month's late data")

    real = snapshots.load_dataset
    monkeypatch.setattr(snapshots, "load_dataset", refuse)
    cached = snapshots.cached_report(last_month)
    monkeypatch.setattr(snapshots, "load_dataset", real)
    assert _stored(period=last_month.label).figures["deployments"] == cached.row()["deployments"]
    assert_same_figures(last_month)
