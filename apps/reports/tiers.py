"""DORA performance tiers (METRICS.md). The default benchmark is the 2023 report; the year is a
report parameter (settings.REPORT_BENCHMARK_YEAR) and every report names the one it used."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from releaseportal.errors import InvalidInput

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY  # "one month" in the benchmark tables: 30 days
SIX_MONTHS = 182 * DAY

TIERS = ("elite", "high", "medium", "low")


@dataclass(frozen=True)
class Benchmark:
    year: int
    # deployment frequency: median deployment days per ISO week for elite / high; medium needs
    # at least this many deployment days in the month ("at least monthly").
    df_elite_days_per_week: float
    df_high_days_per_week: float
    df_medium_days_per_month: int
    # lead time and recovery: strict upper bounds in seconds for elite / high / medium.
    lead_time: tuple[float, float, float]
    recovery: tuple[float, float, float]
    # change failure rate: inclusive upper bounds for elite / high / medium.
    change_failure: tuple[float, float, float]
    description: str


BENCHMARKS: dict[int, Benchmark] = {
    2023: Benchmark(
        year=2023, df_elite_days_per_week=5, df_high_days_per_week=1, df_medium_days_per_month=1,
        lead_time=(DAY, WEEK, MONTH), recovery=(HOUR, DAY, WEEK), change_failure=(0.05, 0.10, 0.15),
        description="DORA Accelerate State of DevOps 2023",
    ),
    2021: Benchmark(
        year=2021, df_elite_days_per_week=5, df_high_days_per_week=1, df_medium_days_per_month=1,
        lead_time=(HOUR, WEEK, SIX_MONTHS), recovery=(HOUR, DAY, WEEK), change_failure=(0.15, 0.30, 0.30),
        description="DORA Accelerate State of DevOps 2021",
    ),
}


def benchmark(year: int | None = None) -> Benchmark:
    year = year or settings.REPORT_BENCHMARK_YEAR
    try:
        return BENCHMARKS[int(year)]
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"No benchmark table for {year}.", code="unknown_benchmark",
                           fields={"benchmark_year": [f"Known years: {sorted(BENCHMARKS)}."]}) from exc


def _is_missing(value) -> bool:
    return value is None or value != value  # NaN


def deployment_frequency_tier(median_days_per_week, deployment_days: int, bench: Benchmark) -> str | None:
    if _is_missing(median_days_per_week):
        return None
    if median_days_per_week >= bench.df_elite_days_per_week:
        return "elite"
    if median_days_per_week >= bench.df_high_days_per_week:
        return "high"
    if deployment_days >= bench.df_medium_days_per_month:
        return "medium"
    return "low"


def _below(value, bounds: tuple[float, float, float]) -> str | None:
    if _is_missing(value):
        return None
    for tier, bound in zip(TIERS, bounds, strict=False):
        if value < bound:
            return tier
    return "low"


def lead_time_tier(median_seconds, bench: Benchmark) -> str | None:
    return _below(median_seconds, bench.lead_time)


def recovery_tier(median_seconds, bench: Benchmark) -> str | None:
    return _below(median_seconds, bench.recovery)


def change_failure_tier(rate, bench: Benchmark) -> str | None:
    if _is_missing(rate):
        return None
    for tier, bound in zip(TIERS, bench.change_failure, strict=False):
        if rate <= bound:
            return tier
    return "low"


TIER_RANK = {"elite": 4, "high": 3, "medium": 2, "low": 1}
