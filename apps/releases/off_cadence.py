"""Off-cadence production changes of a period, by train, with their justification: what the
monthly report lists (issue #15, "shows as off-cadence ... in the monthly report").

The rule is the one the CAB page and the scheduling guard use (cadence.is_on_cadence on the
change's planned start). A change belongs to the period in which it was implemented, or, not
implemented (yet), in which it was planned to start; drafts, rejected and cancelled changes are
left out (they never ran), and so are changes planned before their service joined the train (there was
no cadence to keep). Emergency changes are listed too, marked: the guard exempts them from
a justification because their emergency override carries the reason. Two queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

from apps.changes.models import ChangeRequest, ChangeState

from . import cadence as cadence_rules
from .models import TrainService

NEVER_RAN = (ChangeState.DRAFT, ChangeState.REJECTED, ChangeState.CANCELLED)


@dataclass
class OffCadenceChange:
    change: ChangeRequest
    at: datetime  # when it ran (implemented) or was planned to start
    justification: str
    justified_by: str
    emergency: bool


@dataclass
class TrainOffCadence:
    train: object  # ReleaseTrain
    changes: list[OffCadenceChange] = field(default_factory=list)

    @property
    def unjustified(self) -> int:
        return sum(1 for c in self.changes if not c.justification and not c.emergency)


def off_cadence_changes(*, start: datetime, end: datetime, service_ids: list[int] | None = None
                        ) -> list[TrainOffCadence]:
    """Per train (by name), the production changes of [start, end) that ran off its cadence."""
    links = TrainService.objects.select_related("train")
    if service_ids is not None:
        links = links.filter(service_id__in=service_ids)
    train_of = {link.service_id: link.train for link in links}
    joined = {link.service_id: link.added_at for link in links}
    if not train_of:
        return []
    in_period = (Q(implemented_at__gte=start, implemented_at__lt=end)
                 | Q(implemented_at__isnull=True, planned_start__gte=start, planned_start__lt=end))
    changes = (ChangeRequest.objects.filter(in_period, environment__is_production=True, service_id__in=list(train_of),
                                            planned_start__isnull=False)
               .exclude(state__in=NEVER_RAN)
               .select_related("service", "change_type", "off_cadence_justification__recorded_by")
               .order_by("planned_start", "pk"))
    by_train: dict[int, TrainOffCadence] = {}
    for change in changes:
        train = train_of[change.service_id]
        # Before the service joined the train it had no cadence to keep.
        if change.planned_start < joined[change.service_id] or cadence_rules.is_on_cadence(train, change.planned_start):
            continue
        justification = _justification_of(change)
        who = justification.recorded_by if justification else None
        by_train.setdefault(train.pk, TrainOffCadence(train=train)).changes.append(OffCadenceChange(
            change=change, at=change.implemented_at or change.planned_start,
            justification=justification.text if justification else "",
            justified_by=(who.get_full_name() or who.get_username()) if who else "",
            emergency=bool(change.change_type.is_emergency)))
    return sorted(by_train.values(), key=lambda t: t.train.name)


def _justification_of(change: ChangeRequest):
    # The reverse one-to-one raises when there is none; select_related has already fetched it.
    try:
        return change.off_cadence_justification
    except ObjectDoesNotExist:
        return None
