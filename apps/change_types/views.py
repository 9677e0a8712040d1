from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.permissions import member_required
from apps.catalog.models import Service
from releaseportal.errors import PortalError

from . import services
from .models import ChangeType, StandardChangeTemplate


@member_required
def type_list(request):
    types = ChangeType.objects.prefetch_related("stages").order_by("name")
    return render(request, "change_types/type_list.html", {"types": types})


@member_required
def template_list(request):
    if request.method == "POST":
        service_slug = request.POST.get("service") or ""
        try:
            services.template_propose(
                actor=request.user, slug=(request.POST.get("slug") or "").strip(), name=(request.POST.get("name") or "").strip(),
                description=request.POST.get("description", ""), rollback_plan=request.POST.get("rollback_plan", ""),
                rollout_strategy=request.POST.get("rollout_strategy") or "rolling",
                service=Service.objects.filter(slug=service_slug).first() if service_slug else None)
            messages.success(request, "Template proposed: a release manager or CAB member must approve it.")
            return redirect("change_types:templates")
        except PortalError as exc:
            messages.error(request, exc.message)
    templates = StandardChangeTemplate.objects.select_related("service", "proposed_by", "approved_by").order_by(
        "slug", "-version")
    return render(request, "change_types/template_list.html", {
        "templates": templates, "services": Service.objects.order_by("name").only("slug", "name"),
        "can_decide": request.user.has_role(*services.TEMPLATE_APPROVER_ROLES), "posted": request.POST})


@member_required
@require_POST
def template_approve(request, pk: int):
    template = get_object_or_404(StandardChangeTemplate, pk=pk)
    try:
        approved = services.template_approve(template=template, actor=request.user)
        messages.success(request, f"{approved} approved.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("change_types:templates")


@member_required
@require_POST
def template_retire(request, pk: int):
    template = get_object_or_404(StandardChangeTemplate, pk=pk)
    try:
        retired = services.template_retire(template=template, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"{retired} retired.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("change_types:templates")
