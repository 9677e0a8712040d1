"""Request more information: an approver returns a question to the requester instead of deciding.

Kept out of the state machine on purpose (the smallest change to the workflow): the change stays
in review, its stages stay open and no approval is written. An open question refuses approval
(services.decision_refusals) and takes the change out of the approvers' queues
(selectors.DecisionScope); the requester's (or implementer's) answer puts it back. Each act writes
the question's history row with the actor and one audit event on the change, in one transaction;
the email goes out on commit."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.services import audit_event_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from .models import ChangeRequest, InformationRequest
from .permissions import may_submit

MAX_TEXT = 4000


def open_information_request(change: ChangeRequest) -> InformationRequest | None:
    return InformationRequest.objects.filter(change_id=change.pk, answered_at__isnull=True).first()


def _text(value: str, field: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"Write the {what}.", fields={field: ["This field is required."]})
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"The {what} is too long (at most {MAX_TEXT} characters).",
                           fields={field: [f"At most {MAX_TEXT} characters."]})
    return text


def information_request_ask(*, change: ChangeRequest, actor: Any, question: str) -> InformationRequest:
    """`actor` asks the requester a question. Only someone who could decide on the change now may
    ask (services.decision_refusals: the rejection's answer, since a freeze does not stop a question)."""
    from .services import decision_refusals

    resolved = resolve_actor(actor)
    text = _text(question, "question", "question")
    with transaction.atomic():
        locked = (ChangeRequest.objects.select_for_update(of=("self",))
                  .select_related("change_type", "service", "environment").get(pk=change.pk))
        refusals, _ = decision_refusals(change=locked, user=resolved.user)
        if refusals["reject"] is not None:
            raise refusals["reject"]
        if open_information_request(locked) is not None:
            raise Conflict("A question to the requester is already open on this change: wait for the answer.",
                           code="information_requested", fields={"question": ["A question is already open."]})
        item = InformationRequest(change=locked, asked_by=resolved.user, question=text)
        item._history_user = resolved.user
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError as exc:
            raise Conflict("A question to the requester is already open on this change.",
                           code="information_requested") from exc
        audit_event_record(action="change.information_requested", target=locked, actor=resolved,
                           details={"question": text, "information_request": item.pk})
        item_id = item.pk
        transaction.on_commit(lambda: _enqueue("notify_information_requested", item_id))
    return item


def information_request_answer(*, change: ChangeRequest, actor: Any, answer: str) -> InformationRequest:
    """The requester (or implementer) answers the open question; the change returns to the queues."""
    resolved = resolve_actor(actor)
    text = _text(answer, "answer", "answer")
    with transaction.atomic():
        locked = ChangeRequest.objects.select_for_update(of=("self",)).get(pk=change.pk)
        if not may_submit(resolved.user, locked):
            raise NotAllowed("Only the change's requester or implementer may answer its question.",
                             code="permission_denied", fields={"answer": ["Not yours to answer."]})
        item = InformationRequest.objects.select_for_update().filter(change=locked, answered_at__isnull=True).first()
        if item is None:
            raise Conflict("No question is waiting for an answer on this change.", code="no_open_question",
                           fields={"answer": ["No open question."]})
        item.answer, item.answered_by, item.answered_at = text, resolved.user, timezone.now()
        item._history_user = resolved.user
        item.save()
        audit_event_record(action="change.information_provided", target=locked, actor=resolved,
                           details={"answer": text, "information_request": item.pk})
        item_id = item.pk
        transaction.on_commit(lambda: _enqueue("notify_information_provided", item_id))
    return item


def _enqueue(task_name: str, *args: Any) -> None:
    from . import tasks

    getattr(tasks, task_name).delay(*args)
