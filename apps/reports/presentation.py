"""Turning figures into words and rows for people: shared by the dashboard and the PDF so both
say the same thing the same way."""

from __future__ import annotations

import math

import pandas as pd

from .metrics import Report

KEY_TITLES = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Lead time for changes",
    "change_failure_rate": "Change failure rate",
    "recovery_time": "Failed deployment recovery time",
    "rework_rate": "Deployment rework rate",
}
TIER_BADGE = {"elite": "badge-ok", "high": "badge-info", "medium": "badge-warn", "low": "badge-bad", None: "badge-muted"}
# Which way is good: deployment frequency up, everything else down.
HIGHER_IS_BETTER = {"deployment_frequency": True, "lead_time": False, "change_failure_rate": False,
                    "recovery_time": False, "rework_rate": False}
# The column of dora.aggregate holding each key's headline value and tier.
VALUE_COLUMN = {"deployment_frequency": "median_deploy_days_per_week", "lead_time": "lead_median",
                "change_failure_rate": "change_failure_rate", "recovery_time": "recovery_median",
                "rework_rate": "rework_rate"}
TIER_COLUMN = {"deployment_frequency": "deployment_frequency_tier", "lead_time": "lead_time_tier",
               "change_failure_rate": "change_failure_tier", "recovery_time": "recovery_tier"}
SORTABLE = {"deployments": "deployments", "days": "median_deploy_days_per_week", "lead": "lead_median",
            "cfr": "change_failure_rate", "recovery": "recovery_median", "rework": "rework_rate", "name": "name"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_duration(seconds) -> str:
    if _missing(seconds):
        return "—"
    seconds = float(seconds)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def fmt_rate(rate) -> str:
    return "—" if _missing(rate) else f"{float(rate) * 100:.1f} %"


def fmt_number(value, digits: int = 1) -> str:
    if _missing(value):
        return "—"
    value = float(value)
    return f"{value:.0f}" if value == int(value) else f"{value:.{digits}f}"


def fmt_value(key: str, value) -> str:
    if key == "deployment_frequency":
        return "—" if _missing(value) else f"{fmt_number(value)} days/week"
    if key in ("lead_time", "recovery_time"):
        return fmt_duration(value)
    return fmt_rate(value)


def _value(row: pd.Series | None, key: str):
    if row is None:
        return None
    value = row[VALUE_COLUMN[key]]
    return None if _missing(value) else float(value)


ARROWS = {"up": "▲", "down": "▼"}


def movement(key: str, current, previous) -> tuple[str, str]:
    """(direction better|worse|same|none, words)."""
    if _missing(current) or _missing(previous):
        return "none", "no comparison"
    if current == previous:
        return "same", "unchanged"
    up = current > previous
    better = up == HIGHER_IS_BETTER[key]
    verb = "up" if up else "down"
    return ("better" if better else "worse"), f"{verb} from {fmt_value(key, previous)}"


def trend_of(current, previous) -> str:
    """Which way the value itself moved: up, down or "" (the arrow shows this; whether that is
    better is the colour and the word, by HIGHER_IS_BETTER: a lead time going down is ▼ better)."""
    if _missing(current) or _missing(previous) or current == previous:
        return ""
    return "up" if current > previous else "down"


def key_cards(report: Report, keys=("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")):
    row = report.row()
    prev_label = report.month.previous().label
    prev = report.trend.loc[prev_label] if prev_label in report.trend.index else None
    cards = []
    for key in keys:
        current = _value(row, key)
        previous = _value(prev, key)
        direction, words = movement(key, current, previous)
        trend = trend_of(current, previous)
        tier = row[TIER_COLUMN[key]] if key in TIER_COLUMN else None
        cards.append({
            "key": key, "title": KEY_TITLES[key], "value": fmt_value(key, current), "tier": tier,
            "badge": TIER_BADGE.get(tier, "badge-muted"), "direction": direction, "movement": words,
            "trend": trend, "arrow": ARROWS.get(trend, ""),
            "detail": _detail(key, row),
        })
    return cards


def _detail(key: str, row: pd.Series) -> str:
    if key == "deployment_frequency":
        return f"{int(row['deployments'])} deployments, {fmt_number(row['per_day'], 2)} per day"
    if key == "lead_time":
        return f"p90 {fmt_duration(row['lead_p90'])} over {int(row['lead_count'])} commits"
    if key == "change_failure_rate":
        return f"{int(row['failed'])} of {int(row['total'])} deployments failed"
    if key == "recovery_time":
        return f"{int(row['recovery_count'])} restored, {int(row['unrestored'])} unrestored"
    return f"{int(row['rework'])} of {int(row['total'])} deployments were unplanned fixes"


def breakdown_rows(table: pd.DataFrame | None, names: pd.DataFrame, *, sort: str = "name",
                   descending: bool = False) -> list[dict]:
    """Rows of the team (or service) table for one month, sorted by a metric (missing last)."""
    if table is None or not len(table):
        return []
    names = names.set_index("id")
    frame = table.copy()
    frame["slug"] = frame.index.map(names["slug"])
    frame["name"] = frame.index.map(names["name"])
    column = SORTABLE.get(sort, "name")
    frame = frame.sort_values([column, "name"], ascending=[not descending, True], na_position="last", kind="stable")
    rows = []
    for _id, r in frame.iterrows():
        rows.append({
            "slug": r["slug"], "name": r["name"], "deployments": int(r["deployments"]),
            "days": fmt_number(r["median_deploy_days_per_week"]),
            "lead": fmt_duration(r["lead_median"]), "cfr": fmt_rate(r["change_failure_rate"]),
            "recovery": fmt_duration(r["recovery_median"]), "rework": fmt_rate(r["rework_rate"]),
            "unrestored": int(r["unrestored"]),
            "tiers": {key: r[col] for key, col in TIER_COLUMN.items()},
            "badges": {key: TIER_BADGE.get(r[col], "badge-muted") for key, col in TIER_COLUMN.items()},
        })
    return rows


def notable_facts(report: Report, quality: dict[str, int], governance: dict | None = None) -> list[str]:
    """Three facts in plain words: the largest movement, the standout team, what needs care."""
    facts: list[str] = []
    cards = key_cards(report, keys=tuple(KEY_TITLES))
    moved = [c for c in cards if c["direction"] in ("better", "worse")]
    row = report.row()
    if moved:
        prev = report.trend.loc[report.month.previous().label]

        def change(card):
            cur, before = _value(row, card["key"]), _value(prev, card["key"])
            return abs(cur - before) / (abs(before) or 1)

        card = max(moved, key=change)
        word = "improved" if card["direction"] == "better" else "worsened"
        facts.append(f"{card['title']} {word}: {card['value']}, {card['movement']} the month before.")
    else:
        facts.append(f"{int(row['deployments'])} production deployments succeeded in {report.month.display()}; "
                     "there is no earlier month to compare with.")
    if report.teams is not None and len(report.teams) and report.teams["deployments"].sum() > 0:
        teams = report.teams.join(report.team_names.set_index("id")[["name"]])
        top = teams.sort_values(["deployments", "name"], ascending=[False, True]).iloc[0]
        elite = sum(1 for col in TIER_COLUMN.values() if top[col] == "elite")
        facts.append(f"{top['name']} shipped the most: {int(top['deployments'])} production deployments"
                     + (f", elite on {elite} of the four keys." if elite else "."))
    elif report.services is not None and len(report.services) and report.services["deployments"].sum() > 0:
        services = report.services.join(report.service_names.set_index("id")[["name"]])
        top = services.sort_values(["deployments", "name"], ascending=[False, True]).iloc[0]
        facts.append(f"{top['name']} shipped the most: {int(top['deployments'])} production deployments.")
    care = []
    if int(row["unrestored"]):
        care.append(f"{int(row['unrestored'])} failed deployments are not yet restored")
    if int(row["unauthorized"]):
        care.append(f"{int(row['unauthorized'])} production deployments had no gate approval")
    if governance and governance.get("overdue_retrospectives"):
        care.append(f"{governance['overdue_retrospectives']} emergency changes are past due for their retrospective")
    if quality.get("negative_lead_times"):
        care.append(f"{quality['negative_lead_times']} commits had a negative lead time and were left out")
    if care:
        facts.append("Needs attention: " + "; ".join(care) + ".")
    else:
        facts.append("Nothing needs attention: no unrestored failures, no deployments without a gate approval.")
    return facts[:3]
