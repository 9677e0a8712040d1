from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from apps.accounts.models import Team
from apps.accounts.permissions import member_required
from releaseportal.errors import PortalError
from releaseportal.extensions import collect_sections
from releaseportal.input import parse_id

from .forms import ServiceForm
from .models import COMPLIANCE_SCOPES, Service
from .permissions import can_edit_service, get_service_for_user
from .selectors import environments_list, services_list
from .services import service_update


@member_required
def service_list(request):
    tier = request.GET.get("tier")
    qs = services_list(team=request.GET.get("team") or None, tier=parse_id(tier) if tier else None,
                       scope=request.GET.get("scope") or None, search=request.GET.get("q") or None)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "catalog/service_list.html", {
        "page_obj": page, "teams": Team.objects.order_by("name"), "scopes": COMPLIANCE_SCOPES,
        "tiers": Service.Tier.choices, "filters": request.GET,
    })


@member_required
def service_detail(request, slug: str):
    service = get_service_for_user(request.user, slug)
    return render(request, "catalog/service_detail.html", {
        "service": service, "environments": environments_list(), "sections": collect_sections("service_sections", request, service),
        "can_edit": can_edit_service(request.user, service),
    })


@member_required
def service_edit(request, slug: str):
    service = get_service_for_user(request.user, slug)
    if not can_edit_service(request.user, service):
        raise PermissionDenied("Editing a service needs the service_admin privilege or leading its team.")
    initial = {f: getattr(service, f) for f in ("name", "description", "tier", "compliance_scopes", "repository_url")}
    form = ServiceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            service_update(service=service, actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{service.name} saved.")
            return redirect("catalog:service", slug=service.slug)
    return render(request, "catalog/service_edit.html", {"service": service, "form": form})


@member_required
def environment_list(request):
    return render(request, "catalog/environment_list.html", {"environments": environments_list()})
