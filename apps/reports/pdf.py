"""The monthly PDF (WeasyPrint, A4) and its data appendix.

The HTML is a Django template; the charts are the dashboard's SVGs; every CSV of the appendix is
attached inside the PDF and returned so it can be stored beside it."""

from __future__ import annotations

import base64
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone

from releaseportal.templatetags.portal import viewer_time_zone

from . import presentation
from .appendix import appendix_csvs, appendix_tables
from .attachments import pack, use_packed_streams, zip_bytes
from .charts import CHARTS, all_charts
from .governance import Governance
from .metrics import Report
from .quality import QUALITY_LABELS

# WeasyPrint logs every layout step at INFO; the progress of one report is not news.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

DEFINITIONS = [
    ("Production deployment", "A deployment to an environment marked production, with status succeeded, failed or "
     "rolled back. It belongs to the month in which it finished, in the report timezone. Deployments still started "
     "or in progress are left out and counted under data quality."),
    ("Deployment frequency", "Succeeded production deployments in the month; per day; and the median number of "
     "deployment days per ISO week (Monday start, weeks without deployments included). A week counts in the month "
     "that holds its Thursday, with all seven days. The tier uses the median."),
    ("Lead time for changes", "For each commit, the finish of the first succeeded production deployment of its "
     "service that contains it, minus the commit's authored time. A commit shipped again later is not counted "
     "again. Negative values are excluded and reported. Median and 90th percentile (linear interpolation) over "
     "the commits delivered in the month."),
    ("Change failure rate", "Failed production deployments ÷ all production deployments finished in the month. A "
     "deployment failed when its status is failed or rolled back, or when an incident is linked to it: explicitly, "
     "or (without an explicit link or an override) to the last succeeded production deployment of the same "
     "service that finished before the incident started (inferred)."),
    ("Failed deployment recovery time", "From the failure (the deployment's finish when failed or rolled back, else "
     "the earliest start of its incidents) to the restoration (the latest resolution of its incidents when it has "
     "any, else the finish of the next succeeded production deployment of the service). Unrestored failures are "
     "listed, not averaged. Median, by month of the failure."),
    ("Deployment rework rate", "Production deployments that were unplanned fixes (kind hotfix or rollback, or made "
     "under an emergency change type) ÷ all production deployments in the month."),
    ("Median", "The interpolated median: the mean of the two middle values for an even count (pandas median())."),
    ("Teams", "A team's figures aggregate the services it owns when the report is generated."),
    ("Governance", "Change failure by team: changes implemented in the month that closed failed or rolled back, or "
     "whose deployments are linked to an incident. Approval lead time: submission to final approval, for changes "
     "approved in the month; an SLA breach is an approval slower than the sum of the SLAs of its change type's "
     "mandatory stages. Emergency ratio: emergency changes ÷ changes submitted in the month. Overdue counts are "
     "as of the data date."),
]


@dataclass
class RenderedReport:
    pdf: bytes
    csvs: dict[str, bytes]
    csv_zip: bytes
    html: str


def tier_table(bench) -> list[dict]:
    from .tiers import DAY, HOUR

    def dur(s):
        return f"{s / DAY:.0f} days" if s >= DAY else f"{s / HOUR:.0f} h"

    lt, rt, cf = bench.lead_time, bench.recovery, bench.change_failure
    return [
        {"metric": "Deployment frequency (median days / week)", "elite": f"≥ {bench.df_elite_days_per_week:g}",
         "high": f"≥ {bench.df_high_days_per_week:g}", "medium": "≥ 1 deployment day in the month", "low": "fewer"},
        {"metric": "Lead time (median)", "elite": f"< {dur(lt[0])}", "high": f"< {dur(lt[1])}",
         "medium": f"< {dur(lt[2])}", "low": f"≥ {dur(lt[2])}"},
        {"metric": "Change failure rate", "elite": f"≤ {cf[0]:.0%}", "high": f"≤ {cf[1]:.0%}",
         "medium": f"≤ {cf[2]:.0%}", "low": f"> {cf[2]:.0%}"},
        {"metric": "Recovery time (median)", "elite": f"< {dur(rt[0])}", "high": f"< {dur(rt[1])}",
         "medium": f"< {dur(rt[2])}", "low": f"≥ {dur(rt[2])}"},
    ]


def report_context(report: Report, governance: Governance, *, generated_by: str, generated_at: datetime,
                   version: int | None = None) -> dict:
    quality = report.quality()
    charts = all_charts(report.trend)
    if report.teams is not None:
        breakdown, breakdown_label = presentation.breakdown_rows(report.teams, report.team_names), "Team"
    else:
        breakdown = presentation.breakdown_rows(report.services, report.service_names)
        breakdown_label = "Service"
    value_of = {"deployment_frequency": ("days", "Days / week"), "lead_time": ("lead", "Lead time"),
                "change_failure_rate": ("cfr", "Failure rate"), "recovery_time": ("recovery", "Recovery")}
    cards = presentation.key_cards(report)
    pages = []
    for card in cards:
        key = card["key"]
        value_field, value_label = value_of[key]
        rows = [{"name": r["name"], "value": r[value_field], "deployments": r["deployments"],
                 "unrestored": r["unrestored"], "tier": r["tiers"][key] or "—"} for r in breakdown]
        pages.append({"card": card, "chart": "data:image/svg+xml;base64," + base64.b64encode(
            charts[key].encode()).decode(), "value_label": value_label, "rows": rows})
    return {
        "pages": pages,
        "report": report,
        "summary": report.summary(),
        "period": report.month.display(),
        "period_label": report.month.label,
        "scope": report.scope,
        "cards": cards,
        "rework": presentation.key_cards(report, keys=("rework_rate",))[0],
        "facts": presentation.notable_facts(report, quality, governance.figures),
        "charts": charts,
        "chart_uris": {k: "data:image/svg+xml;base64," + base64.b64encode(v.encode()).decode() for k, v in charts.items()},
        "chart_titles": CHARTS,
        "breakdown": breakdown,
        "breakdown_label": breakdown_label,
        "quality": [{"label": QUALITY_LABELS[k], "count": v} for k, v in quality.items()],
        "governance": governance,
        "gov": _governance_display(governance),
        "definitions": DEFINITIONS,
        "tiers": tier_table(report.bench),
        "generated_by": generated_by,
        "generated_at": generated_at,
        "version": version,
    }


def _governance_display(gov: Governance) -> dict:
    f = gov.figures
    fd, fr = presentation.fmt_duration, presentation.fmt_rate
    return {
        "rows": [
            ("Changes implemented", f.get("changes_implemented", "—")),
            ("Changes failed (closed failed / rolled back, or linked to an incident)", f.get("changes_failed", "—")),
            ("Approval lead time (median)", fd(f.get("approval_median_seconds"))),
            ("Approvals slower than their SLA", f.get("approval_sla_breaches", "—")),
            ("Approval stages waiting past their SLA now", "—" if f.get("open_stages_past_due") is None
             else f["open_stages_past_due"]),
            ("Emergency change ratio", fr(f.get("emergency_ratio"))),
            ("Emergency changes past due for retrospective approval", "—" if f.get("overdue_retrospectives") is None
             else f["overdue_retrospectives"]),
            ("Post-mortems past due", f.get("overdue_post_mortems", "—")),
            ("Unauthorised production deployments", f.get("unauthorized_deployments", 0)),
            ("Incidents started", f.get("incidents", 0)),
            ("Incident recovery time (median / p90)",
             f"{fd(f.get('incident_recovery_median_seconds'))} / {fd(f.get('incident_recovery_p90_seconds'))}"),
            ("Incidents still unresolved", f.get("incidents_unresolved", 0)),
        ],
        "by_team": [{**r, "failure_rate": fr(r["failure_rate"]), "success_rate": fr(r["success_rate"])}
                    for r in gov.by_team],
        "approvals": [{**r, "median": fd(r["median_seconds"])} for r in gov.approval_by_type],
        "campaigns": [{**c, "completion": fr(c["completion"])} for c in gov.campaigns],
        "severity": f.get("incidents_by_severity", {}),
    }


def render_report(report: Report, governance: Governance, *, generated_by: str, generated_at: datetime,
                  version: int | None = None) -> RenderedReport:
    from weasyprint import HTML, Attachment

    tables = appendix_tables(report, governance.tables)
    csvs = appendix_csvs(tables)
    names = sorted(csvs)
    # The appendix is deflated once (attachments.py), in worker threads while the pages are laid out.
    with ThreadPoolExecutor(max_workers=2) as pool:
        packing = [pool.submit(pack, name, csvs[name]) for name in names]
        context = report_context(report, governance, generated_by=generated_by, generated_at=generated_at,
                                 version=version)
        context["attachments"] = names
        # Times in the PDF read in words in the report's own timezone (the one its months are cut in).
        with timezone.override(report.tz_name), viewer_time_zone(None):
            html = render_to_string("reports/pdf/report.html", context)
        document = HTML(string=html, base_url=".").render()
        packed = [future.result() for future in packing]
    attachments = [Attachment(file_obj=io.BytesIO(csvs[name]), name=name, description=f"Data appendix: {name}")
                   for name in names]
    pdf = document.write_pdf(attachments=attachments, finisher=use_packed_streams(packed))
    return RenderedReport(pdf=pdf, csvs=csvs, csv_zip=zip_bytes(packed), html=html)
