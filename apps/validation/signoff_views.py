"""The browser route that signs a deployment's first-hour log review off (logreview.py decides who)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError

from . import logreview, permissions


@member_required
@require_POST
def log_review_sign_off(request, pk: int):
    deployment = permissions.get_deployment_for_user(request.user, pk)
    try:
        logreview.log_review_sign_off(deployment=deployment, actor=request.user, note=request.POST.get("note", ""))
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "First-hour log review signed off.")
    return redirect("delivery:deployment", pk=deployment.pk)
