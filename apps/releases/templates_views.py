"""The pipeline template registry page: every template with its versions and their adopters."""

from __future__ import annotations

from django.shortcuts import render

from apps.accounts.permissions import member_required

from .templates_services import templates_registry


@member_required
def template_registry(request):
    return render(request, "releases/templates_registry.html", {"templates": templates_registry()})
