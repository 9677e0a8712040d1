"""Validation pages: the deployment page's validation sections on their own, which the
verdict polls (htmx, every 30 s) while it is still pending, so an SRE watching a rollout sees
the verdict change without reloading the page."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.permissions import member_required

from . import deployment_sections
from .permissions import get_deployment_for_user


@require_GET
@member_required
def deployment_sections_partial(request, pk: int):
    deployment = get_deployment_for_user(request.user, pk)
    return render(request, "validation/_deployment_sections.html", {
        "deployment": deployment, "sections": deployment_sections.sections(request, deployment)})
