"""Issue #16 (Reports) and #15 (off-cadence changes in the monthly report): the page layout, the
lead-time legend, the movement arrows, times in words in the PDF, the data download's label,
the demo's last-month report, the off-cadence section, and what the pages cost (open month
included)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from apps.reports import charts, presentation
from apps.reports.periods import Month
from apps.reports.scopes import ORGANISATION

from .conftest import at

pytestmark = pytest.mark.django_db


# --- layout ----------------------------------------------------------------------------------

def test_the_title_comes_before_the_filter_and_the_report_box(client, executive, october):
    client.force_login(executive)
    html = client.get("/reports/?month=2026-10").content.decode()
    title = html.index('<h1 id="report-title"')
    assert title < html.index('class="filters"') < html.index('class="report-pdf"')
    assert html.count("<h1") == 1


def test_the_htmx_swap_replaces_the_title_out_of_band(client, executive, october):
    client.force_login(executive)
    partial = client.get("/reports/?month=2026-10&team=identity", HTTP_HX_REQUEST="true").content.decode()
    assert '<h1 id="report-title" hx-swap-oob="true">DORA metrics · Identity</h1>' in partial


# --- the lead-time chart ---------------------------------------------------------------------

def _trend(**columns) -> pd.DataFrame:
    labels = [f"2026-{m:02d}" for m in range(1, 13)]
    base = {c: [0.0] * 12 for c in charts.CHART_COLUMNS}
    base.update(columns)
    return pd.DataFrame(base, index=labels)


def test_the_lead_time_legend_sits_above_every_point_of_the_p90_line():
    # The p90 peaks in the first month: top left, where the legend used to be drawn over it.
    p90 = [50 * 3600.0] + [10 * 3600.0] * 11
    svg = charts.trend_chart("lead_time", _trend(lead_median=[3600.0] * 12, lead_p90=p90))
    legend = re.search(r'<g class="legend">(.*?)</g>', svg).group(1)
    legend_bottom = max(float(y) for y in re.findall(r'\by\d?="([\d.]+)"', legend)) + 4  # text baseline + descent
    points = [float(y) for y in re.findall(r'class="point-p90" cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert len(points) == 12 and "median" in legend and "p90" in legend
    assert legend_bottom < charts.PLOT_TOP
    assert min(points) >= charts.PLOT_TOP


def test_a_month_without_a_value_is_a_gap_not_a_zero():
    median = [3600.0] * 12
    median[5] = float("nan")
    svg = charts.trend_chart("lead_time", _trend(lead_median=median, lead_p90=[7200.0] * 12))
    assert svg.count('class="series-median"') == 2 and svg.count('class="point-median"') == 11


# --- movement arrows -------------------------------------------------------------------------

def _report(current: dict, previous: dict):
    """A Report-like object with two months of figures (October and September 2026)."""
    from apps.reports import dora, snapshots, tiers
    from apps.reports.metrics import Report

    def figures(values):
        row = {c: (0 if c in dora.INT_COLUMNS else None) for c in snapshots.FIGURE_COLUMNS}
        return row | values

    trend = dora.add_tiers(snapshots._frame([figures(previous), figures(current)], pd.Index(["2026-09", "2026-10"])),
                           tiers.benchmark(2023))
    month = Month(2026, 10)
    return Report(month=month, months=[month.previous(), month], scope=ORGANISATION, tz_name="UTC",
                  bench=tiers.benchmark(2023), as_of=at("2026-11-16 09:00"), prep=None, trend=trend)


def test_the_arrow_follows_the_value_and_the_colour_follows_better_or_worse():
    report = _report({"lead_median": 3600.0, "median_deploy_days_per_week": 2.0, "change_failure_rate": 0.2},
                     {"lead_median": 7200.0, "median_deploy_days_per_week": 3.0, "change_failure_rate": 0.1})
    cards = {c["key"]: c for c in presentation.key_cards(report)}
    # Lead time went down: that is better, and the arrow points down.
    assert (cards["lead_time"]["arrow"], cards["lead_time"]["direction"]) == ("▼", "better")
    # Deployment frequency went down: worse, arrow down.
    assert (cards["deployment_frequency"]["arrow"], cards["deployment_frequency"]["direction"]) == ("▼", "worse")
    # Change failure rate went up: worse, arrow up.
    assert (cards["change_failure_rate"]["arrow"], cards["change_failure_rate"]["direction"]) == ("▲", "worse")
    # No figure last month: no arrow at all.
    assert cards["recovery_time"]["arrow"] == "" and cards["recovery_time"]["direction"] == "none"


def test_the_page_shows_a_down_arrow_for_a_shorter_lead_time(client, executive, service, deploy):
    deploy(service, "2026-09-10 10:00", commits=[("s1", "2026-09-08 10:00")])  # two days
    deploy(service, "2026-10-10 10:00", commits=[("o1", "2026-10-10 09:00")])  # one hour
    client.force_login(executive)
    html = client.get("/reports/?month=2026-10").content.decode()
    card = re.search(r'data-key="lead_time">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert 'class="small better" data-trend="down"><span aria-hidden="true">▼</span> better' in card
    assert "▲" not in card


# --- the PDF and the downloads ---------------------------------------------------------------

def test_the_pdf_prints_times_in_words_not_iso(october, executive):
    from apps.reports.governance import compute_governance
    from apps.reports.metrics import compute_report
    from apps.reports.pdf import render_report

    month = Month(2026, 10)
    report = compute_report(month, ORGANISATION, as_of=at("2026-11-16 09:00"))
    governance = compute_governance(report.prep, month, service_ids=None, as_of=report.as_of)
    html = render_report(report, governance, generated_by="exec", generated_at=at("2026-11-16 09:05")).html
    assert "1 Oct 2026, 00:00 UTC to 1 Nov 2026, 00:00 UTC" in html
    assert "16 Nov 2026, 09:05 UTC" in html and "16 Nov 2026, 09:00 UTC" in html
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", html.split("<style>")[0] + html.split("</style>")[1])


def test_the_data_download_is_labelled_as_the_zip_it_is(client, executive, october):
    from apps.reports.services import report_run_generate

    run = report_run_generate(month=Month(2026, 10), scope=ORGANISATION, actor=executive)
    client.force_login(executive)
    for url in ("/reports/?month=2026-10", "/reports/runs/"):
        html = client.get(url).content.decode()
        assert "ZIP of CSV tables" in html and "data (CSV)" not in html, url
    assert client.get(f"/reports/runs/{run.pk}/data/")["Content-Type"] == "application/zip"


# --- the demo's report -----------------------------------------------------------------------

def test_the_demo_seeds_last_months_report_once(october):
    from apps.reports import demo
    from apps.reports.models import MetricSnapshot, ReportRun

    said = []

    class Ctx:
        def say(self, message):
            said.append(message)

    demo.seed(Ctx())
    demo.seed(Ctx())
    runs = ReportRun.objects.all()
    assert [(r.period, r.scope_key, r.trigger, r.version) for r in runs] == [
        ("2026-10", "organisation", ReportRun.Trigger.SCHEDULE, 1)]
    assert runs[0].pdf_sha256 and MetricSnapshot.objects.filter(level="organisation", period="2026-10").exists()


def test_the_dashboard_offers_the_demo_report_for_last_month(client, executive, october):
    from apps.reports import demo

    run = demo.last_month_report()
    client.force_login(executive)
    html = client.get("/reports/").content.decode()
    assert f'href="/reports/runs/{run.pk}/pdf/"' in html and "Download the October 2026 report" in html


# --- off-cadence changes (issue #15) ---------------------------------------------------------

@pytest.fixture
def quarterly(service, executive):
    from apps.releases.models import ReleaseTrain, TrainService

    train = ReleaseTrain.objects.create(slug="regulated", name="Regulated payments", cadence="quarterly",
                                        cadence_anchor=at("2026-07-01 08:00"), window_hours=24)
    TrainService.objects.create(train=train, service=service, added_at=at("2026-09-01 00:00"))
    return train


def test_the_month_lists_off_cadence_changes_per_train_with_their_justification(
        client, executive, quarterly, service, change, requester):
    from apps.releases.models import OffCadenceJustification

    off = change(service, planned_start=at("2026-10-14 10:00"), implemented_at=at("2026-10-14 11:00"))
    OffCadenceJustification.objects.create(change=off, text="Card scheme deadline", recorded_by=requester)
    bare = change(service, planned_start=at("2026-10-20 10:00"), implemented_at=at("2026-10-20 10:30"))
    on = change(service, planned_start=at("2026-10-01 09:00"), implemented_at=at("2026-10-01 09:30"))  # in the window
    never = change(service, state="cancelled", planned_start=at("2026-10-15 10:00"))
    client.force_login(executive)
    html = client.get("/reports/?month=2026-10").content.decode()
    section = html[html.index('id="off-cadence"'):]
    section = section[:section.index("</section>")]
    assert "Regulated payments" in section and "2 changes off cadence" in section
    assert off.number in section and "Card scheme deadline" in section
    assert bare.number in section and "1 without a justification" in section
    assert on.number not in section and never.number not in section
    # The team and service pages list it too; another month does not.
    assert off.number in client.get("/reports/services/payments-api/?month=2026-10").content.decode()
    assert off.number not in client.get("/reports/?month=2026-09").content.decode()


def test_a_change_planned_before_its_service_joined_the_train_is_not_off_cadence(quarterly, service, change):
    from apps.releases.off_cadence import off_cadence_changes

    early = change(service, planned_start=at("2026-08-14 10:00"), implemented_at=at("2026-08-14 11:00"))
    later = change(service, planned_start=at("2026-09-14 10:00"), implemented_at=at("2026-09-14 11:00"))
    found = off_cadence_changes(start=at("2026-08-01 00:00"), end=at("2026-10-01 00:00"))
    assert [c.change.number for t in found for c in t.changes] == [later.number]
    assert early.number != later.number


def test_the_pdf_and_its_appendix_list_the_off_cadence_changes(executive, quarterly, service, change, requester,
                                                               october):
    from apps.releases.models import OffCadenceJustification
    from apps.reports.governance import compute_governance
    from apps.reports.metrics import compute_report
    from apps.reports.pdf import render_report

    off = change(service, planned_start=at("2026-10-14 10:00"), implemented_at=at("2026-10-14 11:00"))
    OffCadenceJustification.objects.create(change=off, text="Card scheme deadline", recorded_by=requester)
    month = Month(2026, 10)
    report = compute_report(month, ORGANISATION, as_of=at("2026-11-16 09:00"))
    governance = compute_governance(report.prep, month, service_ids=None, as_of=report.as_of)
    rendered = render_report(report, governance, generated_by="exec", generated_at=at("2026-11-16 09:05"))
    assert "Off-cadence production changes" in rendered.html and "Card scheme deadline" in rendered.html
    table = rendered.csvs["off_cadence_changes.csv"].decode()
    assert off.number in table and "regulated" in table and "Card scheme deadline" in table
    # The improvement loop is in the same report (it existed before; kept).
    assert "Retrospective actions opened" in rendered.html


# --- what the pages cost ---------------------------------------------------------------------

@pytest.mark.parametrize("today", ["2026-10-25 09:00"])
def test_the_open_month_is_computed_once_for_every_report_page(client, executive, october, deploy, today,
                                                               django_assert_max_num_queries):
    """October is the open month. The first page computes it (for the organisation, which
    covers every team and service); the team and service pages then read it, and a new
    deployment shows on the next request."""
    client.force_login(executive)
    assert client.get("/reports/?month=2026-10").status_code == 200
    for url in ("/reports/?month=2026-10", "/reports/teams/payments/?month=2026-10",
                "/reports/services/payments-api/?month=2026-10", "/reports/services/auth/?month=2026-10"):
        client.get(url)  # stores the scope's closed months (not the open one)
        with django_assert_max_num_queries(20) as warm:
            assert client.get(url).status_code == 200
        assert not any("delivery_deployment" in q["sql"] for q in warm.captured_queries), url
    before = client.get("/reports/services/auth/?month=2026-10").content.decode()
    deploy(october["auth"], "2026-10-24 10:00")
    after = client.get("/reports/services/auth/?month=2026-10").content.decode()
    count = re.compile(r'data-key="deployment_frequency">.*?(\d+) deployments,', re.S)
    assert int(count.search(after).group(1)) == int(count.search(before).group(1)) + 1


def test_team_and_service_pages_cost_a_fixed_number_of_queries(client, executive, october, deploy, quarterly,
                                                               change, django_assert_max_num_queries):
    from tests.factories import ServiceFactory

    service = october["payments"]
    for i in range(4):
        svc = ServiceFactory(slug=f"extra-{i}", owner_team=service.owner_team)
        deploy(svc, f"2026-10-0{i + 1} 10:00", commits=[(f"x{i}", f"2026-10-0{i + 1} 09:00")])
        change(service, planned_start=at(f"2026-10-1{i} 10:00"), implemented_at=at(f"2026-10-1{i} 11:00"))
    client.force_login(executive)
    for url in ("/reports/teams/payments/?month=2026-10", "/reports/services/payments-api/?month=2026-10"):
        client.get(url)  # stores the snapshots
        with django_assert_max_num_queries(16):
            assert client.get(url).status_code == 200
