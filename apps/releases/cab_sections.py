"""Sections on the CAB meeting page (apps.changes: `cab_sections` extension point): the releases
taken to the meeting (and, for who runs CAB while the agenda is open, a form to take a whole
release), and which production changes on the agenda run off their train's cadence, with their
justification. A fixed number of queries whatever the agenda's size."""

from __future__ import annotations

from django.db.models import Count, Q

from apps.changes.cab import cab_meeting_closed_reason, changes_needing_cab

from . import cadence as cadence_rules
from .cab_reviews import can_take_release_to_cab
from .models import OffCadenceJustification, Release, ReleaseCabReview, TrainService
from .services import ACTIVE_STATES


def sections(request, meeting, agenda) -> list[dict]:
    return _releases(request, meeting) + _off_cadence(request, meeting, agenda)


def _releases(request, meeting) -> list[dict]:
    reviews = list(ReleaseCabReview.objects.filter(meeting=meeting).select_related("release", "added_by"))
    can_add = can_take_release_to_cab(request.user) and not cab_meeting_closed_reason(meeting)
    # Only the releases it would change: offering one with nothing awaiting CAB only earned a refusal.
    waiting = changes_needing_cab(before=meeting.starts_at).values("pk")
    releases = list(Release.objects.filter(state__in=ACTIVE_STATES)
                    .annotate(awaiting=Count("change_links", filter=Q(change_links__change__in=waiting)))
                    .filter(awaiting__gt=0).order_by("planned_start", "pk")
                    .only("pk", "name", "planned_start")[:200]) if can_add else []
    if not reviews and not can_add:
        return []
    return [{"title": "Releases", "template": "releases/sections/cab_releases.html", "order": 10,
             "data": {"meeting": meeting, "reviews": reviews, "releases": releases, "can_add": can_add}}]


def _off_cadence(request, meeting, agenda) -> list[dict]:
    changes = [item.change for item in agenda if item.change.environment.is_production]
    if not changes:
        return []
    trains = {link.service_id: link.train for link in TrainService.objects.filter(
        service_id__in={c.service_id for c in changes}).select_related("train")}
    off = [c for c in changes if c.service_id in trains
           and not cadence_rules.is_on_cadence(trains[c.service_id], c.planned_start)]
    if not off:
        return []
    why = {j.change_id: j for j in OffCadenceJustification.objects.filter(change__in=off)}
    return [{"title": "Off-cadence changes", "template": "releases/sections/cab_off_cadence.html", "order": 20,
             "data": {"rows": [(c, trains[c.service_id], why.get(c.pk)) for c in off]}}]
