"""Section on the CAB meeting page (apps.changes: `cab_sections` extension point): which
production changes on the agenda run off their train's cadence, with their justification. Two
queries whatever the agenda's size."""

from __future__ import annotations

from . import cadence as cadence_rules
from .models import OffCadenceJustification, TrainService


def sections(request, meeting, agenda) -> list[dict]:
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
