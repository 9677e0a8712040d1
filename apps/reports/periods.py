"""Report periods: calendar months in the report timezone (METRICS.md: a deployment belongs to
the month in which it finished, in that timezone)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from releaseportal.errors import InvalidInput

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def report_timezone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or settings.REPORT_TIMEZONE)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, value: str | None, *, field: str = "month") -> Month:
        match = _MONTH_RE.match((value or "").strip())
        # Up to 9998: a month's end (the next month's start) in any timezone must still be a datetime.
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= 9998:
            raise InvalidInput("The month must read YYYY-MM, e.g. 2026-10.", code="invalid_month",
                               fields={field: ["Expected a month as YYYY-MM, e.g. 2026-10."]})
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), 1 if self.month == 12 else self.month + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), 12 if self.month == 1 else self.month - 1)

    @property
    def days(self) -> int:
        return (self.next().first_day - self.first_day).days

    def start(self, tz: ZoneInfo) -> datetime:
        """The first instant of the month in `tz` (aware)."""
        return datetime(self.year, self.month, 1, tzinfo=tz)

    def end(self, tz: ZoneInfo) -> datetime:
        """The first instant after the month (exclusive end)."""
        return self.next().start(tz)

    def display(self) -> str:
        return self.first_day.strftime("%B %Y")


def trailing_months(last: Month, count: int = 12) -> list[Month]:
    months = [last]
    while len(months) < count:
        months.append(months[-1].previous())
    return list(reversed(months))


def iso_week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_of_month(month: Month) -> list[date]:
    """The Mondays of the ISO weeks that belong to the month: a week belongs to the month that
    holds its Thursday (the ISO 8601 rule that assigns weeks to years), so every week counts in
    exactly one month and always has its seven days."""
    first = month.first_day
    # The first Thursday on or after the 1st.
    thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    mondays = []
    while thursday.month == month.month and thursday.year == month.year:
        mondays.append(thursday - timedelta(days=3))
        thursday += timedelta(days=7)
    return mondays
