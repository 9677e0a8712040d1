"""Emails about change requests: who is told what. Called from Celery tasks after commit."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from .models import Approval, ChangeRequest


def change_url(change: ChangeRequest) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("changes:detail", args=[change.number])


def _send(messages: list[tuple[str, str, list[str]]]) -> int:
    batch = [(subject, body, settings.DEFAULT_FROM_EMAIL, to) for subject, body, to in messages if to]
    return send_mass_mail(batch, fail_silently=False) if batch else 0


def pending_approver_emails(change: ChangeRequest) -> list[str]:
    from . import workflow

    emails: set[str] = set()
    excluded = workflow.sod_excluded_ids(change)
    from apps.accounts.models import User

    for stage_result in workflow.evaluate(change).open_stages():
        ids = workflow.stage_member_ids(stage_result.stage, change) - excluded
        emails |= set(User.objects.filter(pk__in=ids).exclude(email="").values_list("email", flat=True))
    return sorted(emails)


def approvers_new_request(change: ChangeRequest) -> int:
    body = (f"{change.requester.display_name} asks for your approval of {change.number} “{change.title}”\n"
            f"Service: {change.service} · Environment: {change.environment} · Risk: {change.risk_level}\n"
            f"Planned: {change.planned_start or 'not scheduled'} – {change.planned_end or ''}\n\n{change_url(change)}\n")
    return _send([(f"[Release Portal] Approval needed: {change.number} {change.title}", body,
                   pending_approver_emails(change))])


def requester_decision(approval: Approval) -> int:
    change = approval.change
    who = approval.approver.display_name
    if approval.on_behalf_of_id:
        who += f" (on behalf of {approval.on_behalf_of.display_name})"
    verb = "approved" if approval.decision == "approve" else "rejected"
    body = (f"{who} {verb} {change.number} “{change.title}” in stage {approval.stage_name}.\n"
            f"Comment: {approval.comment or '—'}\nThe change is now {change.get_state_display().lower()}.\n\n"
            f"{change_url(change)}\n")
    return _send([(f"[Release Portal] {change.number} {verb} in {approval.stage_name}", body,
                   [change.requester.email] if change.requester.email else [])])


def sla_reminder(change: ChangeRequest, stage_name: str, emails: list[str], *, escalation: bool) -> int:
    if escalation:
        subject = f"[Release Portal] Escalation: {change.number} waited past its SLA in {stage_name}"
        body = f"The stage {stage_name} of {change.number} “{change.title}” has passed its SLA.\n\n{change_url(change)}\n"
    else:
        subject = f"[Release Portal] Reminder: {change.number} waits for your decision ({stage_name})"
        body = f"{change.number} “{change.title}” is close to its approval SLA in {stage_name}.\n\n{change_url(change)}\n"
    return _send([(subject, body, emails)])


def information_requested(item) -> int:
    """The requester is asked a question; the change waits for the answer."""
    change = item.change
    body = (f"{item.asked_by.display_name} needs more information before deciding on {change.number} "
            f"“{change.title}”:\n\n{item.question}\n\nAnswer on the change page; it returns to the approvers' queue "
            f"then.\n\n{change_url(change)}\n")
    return _send([(f"[Release Portal] Question on {change.number}: more information needed", body,
                   [change.requester.email] if change.requester.email else [])])


def information_provided(item) -> int:
    change = item.change
    body = (f"{item.answered_by.display_name} answered your question on {change.number} “{change.title}”:\n\n"
            f"{item.answer}\n\nIt is back in your queue.\n\n{change_url(change)}\n")
    return _send([(f"[Release Portal] {change.number}: your question is answered", body,
                   [item.asked_by.email] if item.asked_by.email else [])])


# --- chat (apps.notifications): queued in the caller's transaction, posted after commit ------

def _change_facts(change: ChangeRequest) -> list[tuple[str, str]]:
    return [("Service", change.service.slug), ("Environment", change.environment.slug),
            ("Risk", change.risk_level or "—"), ("Requester", change.requester.display_name),
            ("Planned start", f"{change.planned_start:%Y-%m-%d %H:%M} UTC" if change.planned_start else "not scheduled")]


def chat_approval_requested(change: ChangeRequest) -> None:
    from apps.notifications.services import chat_notify

    chat_notify(event="approval_requested", team_id=change.service.owner_team_id, target_type="changes.changerequest",
                target_id=change.pk, target_repr=change.number,
                title=f"Approval needed: {change.number} {change.title}",
                text="Waiting for approval.",
                facts=lambda: _change_facts(change), path=reverse("changes:detail", args=[change.number]))


def chat_approval_reminder(change: ChangeRequest, stage_name: str, *, escalation: bool) -> None:
    from apps.notifications.services import chat_notify

    if escalation:
        title = f"Escalation: {change.number} waited past its SLA in {stage_name}"
        text = f"The approval stage {stage_name} has passed its SLA."
    else:
        title = f"Reminder: {change.number} waits for a decision in {stage_name}"
        text = f"The approval stage {stage_name} is close to its SLA."
    chat_notify(event="approval_reminder", team_id=change.service.owner_team_id, target_type="changes.changerequest",
                target_id=change.pk, target_repr=change.number, title=f"{title}: {change.title}", text=text,
                facts=lambda: _change_facts(change), path=reverse("changes:detail", args=[change.number]))
