"""Reads behind the change calendar (month, week and day views).

A pipeline's pre-approved standard changes ("deployments" here: one per CI release, hundreds a
month) are counted per day in one aggregate query instead of listed, so they cannot hide the
maintenance windows, freezes and CAB meetings; the day view lists them. Days are the viewer's
(the active timezone). Each view costs the same handful of queries whatever the number of rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Environment, Service

from .models import CabMeeting, ChangeRequest, Freeze, MaintenanceWindow
from .schedule import OccurrenceIndex, window_sla_flags

KINDS = {"changes": "Changes", "deployments": "Deployments", "windows": "Maintenance windows",
         "freezes": "Freezes", "cab": "CAB meetings"}
VIEWS = ("month", "week", "day")
HIDDEN_STATES = ("cancelled", "rejected", "draft")
# Windows, freezes and CAB meetings first: they are what a planner looks for among the changes.
KIND_ORDER = {"window": 0, "freeze": 1, "cab": 2, "change": 3, "deployments": 4, "deployment": 4}
DAY_LIST_LIMIT = 300
FLAG_LABELS = {"window_short_notice": "less notice than the window's SLA",
               "window_duration_exceeded": "longer than the window's SLA allows"}


@dataclass
class CalendarQuery:
    view: str = "month"
    anchor: date = field(default_factory=timezone.localdate)
    service: Service | None = None
    environment: Environment | None = None
    kinds: frozenset[str] = frozenset(KINDS)
    errors: dict[str, str] = field(default_factory=dict)

    def params(self, **override) -> str:
        """The query string for another view/date with the same filters."""
        from urllib.parse import urlencode

        values: list[tuple[str, str]] = [("view", override.get("view", self.view)),
                                         ("date", str(override.get("date", self.anchor)))]
        if self.service:
            values.append(("service", self.service.slug))
        if self.environment:
            values.append(("environment", self.environment.slug))
        if self.kinds != frozenset(KINDS):
            values.extend(("kind", k) for k in KINDS if k in self.kinds)
        return urlencode(values)


def calendar_query(params) -> CalendarQuery:
    """The view, date and filters from GET parameters; what is wrong is named in `errors`
    (field → reason) and the page answers 400 with them."""
    query = CalendarQuery()
    view = params.get("view") or "month"
    if view not in VIEWS:
        query.errors["view"] = f"Unknown view “{view}”: month, week or day."
    else:
        query.view = view
    raw_date, raw_month = params.get("date") or "", params.get("month") or ""
    try:
        if raw_date:
            query.anchor = date.fromisoformat(raw_date)
        elif raw_month:  # the month view's links before day and week views existed
            query.anchor = date.fromisoformat(raw_month + "-01")
    except ValueError:
        query.errors["date" if raw_date else "month"] = "Not a date (YYYY-MM-DD, or YYYY-MM for month)."
    if params.get("service"):
        query.service = Service.objects.filter(slug=params["service"]).first()
        if query.service is None:
            query.errors["service"] = f"No service “{params['service']}”."
    if params.get("environment"):
        query.environment = Environment.objects.filter(slug=params["environment"]).first()
        if query.environment is None:
            query.errors["environment"] = f"No environment “{params['environment']}”."
    kinds = [k for k in params.getlist("kind") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        query.errors["kind"] = f"Unknown kind {', '.join(unknown)}: one of {', '.join(KINDS)}."
    elif kinds:
        query.kinds = frozenset(kinds)
    return query


def view_days(query: CalendarQuery) -> list[date]:
    anchor = query.anchor
    if query.view == "day":
        return [anchor]
    if query.view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return [monday + timedelta(days=i) for i in range(7)]
    import calendar as pycalendar

    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(anchor.year, anchor.month)
    return [d for week in weeks for d in week]


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _deployment_q() -> Q:
    """A pipeline's pre-approved standard change: what a CI release files for every deployment."""
    return Q(change_type__is_pre_approved=True, requester__kind=User.Kind.SERVICE_ACCOUNT)


def _changes(query: CalendarQuery, start: datetime, end: datetime) -> QuerySet[ChangeRequest]:
    qs = ChangeRequest.objects.filter(planned_start__lt=end, planned_end__gt=start).exclude(state__in=HIDDEN_STATES)
    if query.service:
        qs = qs.filter(service=query.service)
    if query.environment:
        qs = qs.filter(environment=query.environment)
    return qs


def _applies(obj, query: CalendarQuery) -> bool:
    """A window or freeze scoped to nothing applies everywhere; one scoped elsewhere is filtered out."""
    if query.service and obj.service_id not in (None, query.service.pk):
        return False
    return not (query.environment and obj.environment_id not in (None, query.environment.pk))


def calendar_entries(query: CalendarQuery, days: list[date]) -> dict[date, list[dict]]:
    """{day: [entry]} for `days`, each entry {"kind", "label", "title", "url", "flags"}, ordered
    windows, freezes, CAB, changes, then the deployments count (or, in the day view, each one)."""
    start, end = _local_start(days[0]), _local_start(days[-1] + timedelta(days=1))
    entries: dict[date, list[dict]] = {d: [] for d in days}
    windows = list(MaintenanceWindow.objects.filter(is_active=True).select_related("service", "environment"))
    windows = [w for w in windows if _applies(w, query)]
    # Each recurring window's occurrences over the view, listed once for every change and the grid.
    occurrences = OccurrenceIndex(windows, start, end)
    if "changes" in query.kinds:
        changes = (_changes(query, start, end).exclude(_deployment_q())
                   .select_related("service", "environment", "change_type").order_by("planned_start", "id")[:1000])
        for c in changes:
            day = _local_day(c.planned_start)
            if day not in entries:
                continue
            scoped = [w for w in windows if w.service_id in (None, c.service_id)
                      and w.environment_id in (None, c.environment_id)]
            flags = window_sla_flags(c, scoped, index=occurrences) if scoped else []
            entries[day].append({
                "kind": "change", "at": c.planned_start, "label": f"{timezone.localtime(c.planned_start):%H:%M} "
                                                                  f"{c.number} {c.title}",
                "url": reverse("changes:detail", args=[c.number]), "flags": flags,
                "flag_text": ", ".join(FLAG_LABELS.get(f["code"], f["code"]) for f in flags),
                "title": f"{c.service.name} · {c.environment.name} · {c.get_state_display()}"
                         + "".join(f" — {f['message']}" for f in flags)})
    if "deployments" in query.kinds:
        deployments = _changes(query, start, end).filter(_deployment_q())
        if query.view == "day":
            for c in deployments.select_related("service", "environment").order_by("planned_start", "id")[
                    :DAY_LIST_LIMIT]:
                day = _local_day(c.planned_start)
                if day in entries:
                    entries[day].append({
                        "kind": "deployment", "at": c.planned_start, "flags": [],
                        "label": f"{timezone.localtime(c.planned_start):%H:%M} {c.title}",
                        "url": reverse("changes:detail", args=[c.number]),
                        "title": f"{c.number} · {c.service.name} · {c.environment.name} · {c.get_state_display()}"})
        counts = (deployments.annotate(day=TruncDate("planned_start", tzinfo=timezone.get_current_timezone()))
                  .values("day").annotate(n=Count("id")).order_by())
        for row in counts:
            day = row["day"]
            if day in entries and (query.view != "day" or row["n"] > DAY_LIST_LIMIT):
                entries[day].append({
                    "kind": "deployments", "at": _local_start(day), "count": row["n"], "flags": [],
                    "label": f"{row['n']} deployment{'s' if row['n'] != 1 else ''}"
                             + (f" ({DAY_LIST_LIMIT} listed)" if query.view == "day" else ""),
                    "url": "?" + query.params(view="day", date=day),
                    "title": "Pipeline releases under pre-approved standard changes: open the day to list them"})
    if "freezes" in query.kinds:
        for f in Freeze.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related("service", "environment",
                                                                                             "team"):
            if not _applies(f, query):
                continue
            d, last = max(_local_day(f.starts_at), days[0]), min(_local_day(f.ends_at), days[-1])
            while d <= last:
                entries[d].append({"kind": "freeze", "at": f.starts_at, "label": f"❄ {f.name}", "flags": [],
                                   "url": reverse("changes:freeze_edit", args=[f.pk]),
                                   "title": f"Freeze {f.scope_label}, {f.reason}; until "
                                            f"{timezone.localtime(f.ends_at):%d %b %H:%M}"})
                d += timedelta(days=1)
    if "windows" in query.kinds:
        today = timezone.localdate()
        for w in windows:
            overdue = w.review_overdue(today)
            for occ_start, occ_end in occurrences.occurrences(w):
                day = _local_day(occ_start)
                if day in entries:
                    entries[day].append({
                        "kind": "window", "at": occ_start, "review_overdue": overdue, "flags": [],
                        "label": f"{timezone.localtime(occ_start):%H:%M} {w.name}",
                        "url": reverse("changes:window_edit", args=[w.pk]),
                        "title": f"Maintenance window until {timezone.localtime(occ_end):%H:%M}"
                                 + (" — SLA review overdue" if overdue else "")})
    if "cab" in query.kinds:
        for m in CabMeeting.objects.filter(starts_at__gte=start, starts_at__lt=end).exclude(status="cancelled"):
            day = _local_day(m.starts_at)
            entries[day].append({"kind": "cab", "at": m.starts_at, "flags": [],
                                 "label": f"{timezone.localtime(m.starts_at):%H:%M} {m.title}",
                                 "url": reverse("changes:cab_meeting", args=[m.pk]), "title": "CAB meeting"})
    for items in entries.values():
        items.sort(key=lambda e: (KIND_ORDER[e["kind"]], e["at"]))
    return entries


def deployments_total(entries: dict[date, list[dict]]) -> int:
    return sum(e.get("count", 0) for items in entries.values() for e in items if e["kind"] == "deployments")


def flagged_count(entries: dict[date, list[dict]]) -> int:
    return sum(1 for items in entries.values() for e in items if e["flags"])

