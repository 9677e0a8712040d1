"""The change calendar (month, week and day views with filters) and the iCalendar feed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.accounts.permissions import member_required
from apps.catalog.models import Environment, Service

from . import services
from .calendar_selectors import KINDS, calendar_entries, calendar_query, deployments_total, view_days
from .models import CabMeeting, CalendarFeed, ChangeRequest, Freeze
from .permissions import can_manage_schedule
from .selectors import cab_queue_for


def _neighbours(query) -> tuple:
    anchor = query.anchor
    if query.view == "day":
        return anchor - timedelta(days=1), anchor + timedelta(days=1)
    if query.view == "week":
        return anchor - timedelta(days=7), anchor + timedelta(days=7)
    first = anchor.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), (first + timedelta(days=32)).replace(day=1)


@member_required
def calendar_month(request):
    """Month (default), week or day: `?view=&date=YYYY-MM-DD&service=&environment=&kind=…`."""
    query = calendar_query(request.GET)
    days = view_days(query)
    entries = {} if query.errors else calendar_entries(query, days)
    prev, nxt = _neighbours(query)
    # Each day links to its day view with the same filters ("+N more" and the day number).
    cells = [(d, entries.get(d, []), "?" + query.params(view="day", date=d)) for d in days]
    context = {
        "query": query, "view": query.view, "anchor": query.anchor, "days": days,
        "weeks": [cells[i:i + 7] for i in range(0, len(cells), 7)], "day_entries": cells,
        "month_limit": 5, "deployments_total": deployments_total(entries),
        "prev_url": "?" + query.params(date=prev), "next_url": "?" + query.params(date=nxt),
        "today_url": "?" + query.params(date=timezone.localdate()),
        "view_urls": [(v, v.title(), "?" + query.params(view=v)) for v in ("month", "week", "day")],
        "kinds": KINDS, "services": Service.objects.order_by("name").only("slug", "name"),
        "environments": Environment.objects.order_by("order").only("slug", "name"),
        "manage": can_manage_schedule(request.user),
        "feed": CalendarFeed.objects.filter(user=request.user).first(),
        "feed_secret": request.session.pop("calendar_feed_secret", None),
    }
    return render(request, "changes/calendar.html", context, status=400 if query.errors else 200)


def calendar_feed_manage(request):
    """GET answers the iCalendar itself: with `?token=<secret>` for calendar clients (no session: the
    secret is the credential, as on the .ics URL), else the signed-in member's own feed to download.
    POST rotates or revokes the secret feed URL."""
    token = request.GET.get("token", "")
    if token and request.method in ("GET", "HEAD"):
        return _feed_response(request, _feed_user(token))
    return _calendar_feed_member(request)


@member_required
@require_http_methods(["GET", "HEAD", "POST"])
def _calendar_feed_member(request):
    if request.method in ("GET", "HEAD"):
        return _feed_response(request, request.user, download=True)
    if request.POST.get("action") == "revoke":
        services.calendar_feed_revoke(user=request.user, actor=request.user)
        messages.success(request, "Your calendar feed URL no longer works.")
    else:
        secret = services.calendar_feed_rotate(user=request.user, actor=request.user)
        request.session["calendar_feed_secret"] = secret
        messages.success(request, "A new calendar feed URL is ready; the old one stopped working.")
    return redirect("changes:calendar")


def _feed_user(secret: str):
    digest = hashlib.sha256(secret.encode()).hexdigest()
    feed = CalendarFeed.objects.select_related("user").filter(secret_hash=digest).first()
    if feed is None or not feed.user.is_active:
        raise Http404("Unknown calendar feed.")
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=timezone.now())
    return feed.user


@require_http_methods(["GET", "HEAD"])
def calendar_feed(request, secret: str):
    """The iCalendar feed. No session: the secret in the URL is the credential."""
    return _feed_response(request, _feed_user(secret))


def _feed_response(request, user, *, download: bool = False) -> HttpResponse:
    from icalendar import Calendar, Event

    now = timezone.now()
    horizon_start, horizon_end = now - timedelta(days=30), now + timedelta(days=180)
    queue, _ = cab_queue_for(user)
    queue_ids = list(queue.waiting.values_list("pk", flat=True)[:500])
    changes = ChangeRequest.objects.filter(Q(requester=user) | Q(implementer=user) | Q(pk__in=queue_ids)).filter(
        planned_start__gte=horizon_start, planned_start__lt=horizon_end).select_related("service", "environment")[:500]
    cal = Calendar()
    cal.add("prodid", "-//Release Portal//changes//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Release Portal — {user.get_full_name() or user.username}")
    base = request.build_absolute_uri("/").rstrip("/")
    for c in changes:
        ev = Event()
        ev.add("uid", f"change-{c.pk}@release-portal")
        ev.add("summary", f"{c.number} {c.title} ({c.get_state_display()})")
        ev.add("dtstart", c.planned_start)
        ev.add("dtend", c.planned_end or c.planned_start + timedelta(hours=1))
        ev.add("dtstamp", now)
        ev.add("description", f"{c.service.name} · {c.environment.name}\n{base}{reverse('changes:detail', args=[c.number])}")
        cal.add_component(ev)
    for f in Freeze.objects.filter(ends_at__gt=horizon_start, starts_at__lt=horizon_end):
        ev = Event()
        ev.add("uid", f"freeze-{f.pk}@release-portal")
        ev.add("summary", f"Freeze: {f.name}")
        ev.add("dtstart", f.starts_at)
        ev.add("dtend", f.ends_at)
        ev.add("dtstamp", now)
        ev.add("description", f"{f.reason} ({f.scope_label})")
        cal.add_component(ev)
    for m in CabMeeting.objects.filter(memberships__user=user, starts_at__gte=horizon_start, starts_at__lt=horizon_end):
        ev = Event()
        ev.add("uid", f"cab-{m.pk}@release-portal")
        ev.add("summary", m.title)
        ev.add("dtstart", m.starts_at)
        ev.add("dtend", m.starts_at + timedelta(minutes=m.duration_minutes))
        ev.add("dtstamp", now)
        cal.add_component(ev)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    if download:
        response["Content-Disposition"] = 'attachment; filename="release-portal.ics"'
    return response
