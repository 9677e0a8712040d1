"""Configuration tasks: thin, idempotent, safe to retry (`acks_late`).

- `notify_drift_findings`: one email per service × environment to the owning team (its members
  and its mailbox) about findings not yet notified; `notified_at` makes it send once however often
  the task runs. The email names keys and masked values only.
- `flag_stale_observations` (beat, apps/environments/schedules.py): opens `stale` findings where an
  environment's policy says a service has gone unobserved too long (config_services)."""

from __future__ import annotations

from collections import defaultdict

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.actor import Actor, acting_as

STALE_TASK = "environments.flag_stale_observations"


def owner_emails(service) -> list[str]:
    emails = set(User.objects.filter(memberships__team_id=service.owner_team_id, is_active=True)
                 .exclude(email="").values_list("email", flat=True))
    if service.owner_team.email:
        emails.add(service.owner_team.email)
    return sorted(emails)


def drift_notifications_send(finding_ids: list[int]) -> int:
    """Email the owning teams about the findings among `finding_ids` not yet notified. Returns the
    number of emails sent."""
    from .models.config import DriftFinding

    sent = 0
    with transaction.atomic():
        findings = list(DriftFinding.objects.select_for_update(of=("self",))
                        .select_related("service", "service__owner_team", "environment", "deployment")
                        .filter(pk__in=finding_ids, notified_at__isnull=True).order_by("pk"))
        groups: dict[tuple[int, int], list] = defaultdict(list)
        for finding in findings:
            groups[(finding.service_id, finding.environment_id)].append(finding)
        messages = []
        for group in groups.values():
            service, environment = group[0].service, group[0].environment
            recipients = owner_emails(service)
            blocking = sum(1 for f in group if f.must_match)
            subject = (f"[drift] {service.name} in {environment.name}: {len(group)} configuration "
                       f"finding{'s' if len(group) != 1 else ''}" + (f", {blocking} blocking" if blocking else ""))
            lines = [f"Service: {service.name} ({service.slug})", f"Environment: {environment.name}", ""]
            for f in group:
                if f.kind == "stale":
                    lines.append(f"- {f.reference}: no recent observation ({f.observed}; policy: {f.expected})")
                else:
                    lines.append(f"- {f.reference} {f.key}: {f.kind}; expected {f.expected or '—'}, "
                                 f"observed {f.observed or '—'}" + (" [must match]" if f.must_match else ""))
                if f.deployment_id:
                    lines.append(f"  seen right after deployment #{f.deployment_id}")
            lines.extend(["", "An unauthorised configuration change stays open until it is reverted or accepted "
                              "with an approved change.",
                          f"Drift list: {settings.SITE_URL.rstrip('/')}/api/v1/config/drift/?service={service.slug}"
                          f"&environment={environment.slug}&status=open"])
            messages.extend(EmailMessage(subject=subject[:250], body="\n".join(lines), to=[address])
                            for address in recipients)
            sent += 1 if recipients else 0
        if messages:
            get_connection().send_messages(messages)
        # Housekeeping timestamp, not a governed change: no history row.
        DriftFinding.objects.filter(pk__in=[f.pk for f in findings]).update(notified_at=timezone.now())
    return sent


@shared_task(acks_late=True)
def notify_drift_findings(finding_ids: list[int]) -> int:
    with acting_as(Actor.for_task("environments.notify_drift_findings")):
        return drift_notifications_send(list(finding_ids))


@shared_task(acks_late=True)
def flag_stale_observations() -> int:
    from .config_services import stale_observations_flag

    actor = Actor.for_task(STALE_TASK)
    with acting_as(actor):
        return len(stale_observations_flag(actor=actor))
