"""The data-quality section: what the figures had to leave out or could not decide.

The counts are computed with the figures (dora.aggregate, per group and month), so the
dashboard, the API's snapshots and the PDF read them from the same row."""

from __future__ import annotations

import pandas as pd

# quality check -> the column of dora.aggregate that counts it
QUALITY_COLUMNS = {
    "unfinished_deployments": "unfinished",
    "deployments_without_finish_time": "no_finish_time",
    "negative_lead_times": "lead_negative",
    "incidents_without_deployment": "incidents_unlinked",
    "incidents_link_suppressed": "incidents_suppressed",
    "unrestored_failures": "unrestored",
    "negative_recovery_times": "negative_recovery",
}


def quality_from_row(row: pd.Series) -> dict[str, int]:
    return {check: int(row[column]) for check, column in QUALITY_COLUMNS.items()}


QUALITY_LABELS = {
    "unfinished_deployments": "Production deployments started in the month and still started / in progress",
    "deployments_without_finish_time": "Production deployments with a final status but no finish time",
    "negative_lead_times": "Commits authored after the deployment that shipped them (excluded from lead time)",
    "incidents_without_deployment": "Incidents with no deployment to link (no explicit link, none before them)",
    "incidents_link_suppressed": "Incidents whose link was overridden to none",
    "unrestored_failures": "Failed deployments not yet restored (listed, not averaged)",
    "negative_recovery_times": "Failures whose restoration precedes the failure (excluded from recovery time)",
}
