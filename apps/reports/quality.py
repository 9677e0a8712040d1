"""The data-quality section: what the figures had to leave out or could not decide."""

from __future__ import annotations

import pandas as pd

from .dora import Prepared
from .periods import Month


def quality_summary(prep: Prepared, month: Month) -> dict[str, int]:
    tz = prep.tz
    start, end = pd.Timestamp(month.start(tz)), pd.Timestamp(month.end(tz))
    unfinished = prep.unfinished
    started_in = (unfinished["started_at"] >= start) & (unfinished["started_at"] < end)
    no_finish = unfinished["status"].isin(("succeeded", "failed", "rolled_back"))
    links = prep.links
    incident_in = (links["started_at"] >= start) & (links["started_at"] < end)
    deps = prep.deployments
    leads = prep.leads
    return {
        "unfinished_deployments": int((started_in & ~no_finish).sum()),
        "deployments_without_finish_time": int((started_in & no_finish).sum()),
        "negative_lead_times": int((leads["negative"] & (leads["month"] == month.label)).sum()),
        "incidents_without_deployment": int((incident_in & (links["link"] == "none")).sum()),
        "incidents_link_suppressed": int((incident_in & (links["link"] == "suppressed")).sum()),
        "unrestored_failures": int((deps["unrestored"] & (deps["failure_month"] == month.label)).sum()),
        "negative_recovery_times": int(((deps["recovery_seconds"] < 0) & (deps["failure_month"] == month.label)).sum()),
    }


QUALITY_LABELS = {
    "unfinished_deployments": "Production deployments started in the month and still started / in progress",
    "deployments_without_finish_time": "Production deployments with a final status but no finish time",
    "negative_lead_times": "Commits authored after the deployment that shipped them (excluded from lead time)",
    "incidents_without_deployment": "Incidents with no deployment to link (no explicit link, none before them)",
    "incidents_link_suppressed": "Incidents whose link was overridden to none",
    "unrestored_failures": "Failed deployments not yet restored (listed, not averaged)",
    "negative_recovery_times": "Failures whose restoration precedes the failure (excluded from recovery time)",
}
