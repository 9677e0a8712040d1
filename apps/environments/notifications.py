"""Emails about environments: an unauthorised production provisioning run goes to the release
managers and to the team that answers for the pipeline that reported it (its mailbox and
members). Sent after commit; nothing goes out when the recording rolls back."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from apps.accounts.models import User

from .models import Provision


def _recipients(provision: Provision) -> list[str]:
    emails = set(User.objects.filter(groups__name="release_manager", is_active=True).exclude(email="")
                 .values_list("email", flat=True))
    reporter = provision.created_by
    team = reporter.owner_team if reporter is not None and reporter.owner_team_id else None
    if team is not None:
        if team.email:
            emails.add(team.email)
        emails |= set(User.objects.filter(memberships__team=team, is_active=True).exclude(email="")
                      .values_list("email", flat=True))
    return sorted(emails)


def unauthorized_provision(provision_id: int) -> int:
    provision = (Provision.objects.select_related("environment", "change", "created_by__owner_team")
                 .filter(pk=provision_id).first())
    if provision is None:
        return 0
    recipients = _recipients(provision)
    if not recipients:
        return 0
    link = settings.SITE_URL.rstrip("/") + reverse("environments:provision", args=[provision.pk])
    s = provision.summary
    body = (f"A {provision.get_tool_display()} run was {provision.status} in {provision.environment.name} "
            f"without an approved change for that environment.\n"
            f"It deletes {s['delete']} and replaces {s['replace']} resources.\n"
            f"Repository: {provision.repository or '—'} @ {provision.git_sha or '—'}\n"
            f"Pipeline run: {provision.pipeline_run_id or '—'}\n"
            f"Change named: {provision.change.number if provision.change else 'none'}\n\n{link}\n")
    return send_mail(f"[Release Portal] Unauthorised provisioning in {provision.environment.name}", body,
                     settings.DEFAULT_FROM_EMAIL, recipients)
