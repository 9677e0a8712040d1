"""Celery tasks for change control: thin, idempotent, safe to retry."""

from __future__ import annotations

from celery import shared_task

from apps.audit.actor import Actor, acting_as


@shared_task(acks_late=True)
def notify_approvers_new_request(change_id: int) -> int:
    from . import notifications
    from .models import ChangeRequest

    change = ChangeRequest.objects.select_related("requester", "service", "environment", "change_type").filter(pk=change_id).first()
    return notifications.approvers_new_request(change) if change else 0


@shared_task(acks_late=True)
def notify_requester_decision(approval_id: int) -> int:
    from . import notifications
    from .models import Approval

    approval = Approval.objects.select_related("change", "change__requester", "approver", "on_behalf_of").filter(
        pk=approval_id).first()
    return notifications.requester_decision(approval) if approval else 0


@shared_task(acks_late=True)
def approval_reminders_send() -> dict:
    from .reminders import approval_reminders_send as run

    with acting_as(Actor.for_task("changes.approval_reminders_send")) as actor:
        return run(actor=actor)


@shared_task(acks_late=True)
def emergency_overrides_flag_expired() -> int:
    from .services import emergency_overrides_flag_expired as run

    with acting_as(Actor.for_task("changes.emergency_overrides_flag_expired")) as actor:
        return run(actor=actor)


@shared_task(acks_late=True)
def notify_information_requested(information_request_id: int) -> int:
    from . import notifications
    from .models import InformationRequest

    item = InformationRequest.objects.select_related("change", "change__requester", "asked_by").filter(
        pk=information_request_id).first()
    return notifications.information_requested(item) if item else 0


@shared_task(acks_late=True)
def notify_information_provided(information_request_id: int) -> int:
    from . import notifications
    from .models import InformationRequest

    item = InformationRequest.objects.select_related("change", "asked_by", "answered_by").filter(
        pk=information_request_id).first()
    return notifications.information_provided(item) if item else 0
