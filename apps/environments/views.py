"""Environment pages: an environment's provisioning history beside its deployments, with the
sections other apps add, and one provisioning run with the addresses it touched."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from apps.accounts.permissions import member_required
from apps.delivery.selectors import deployments_list
from releaseportal.extensions import collect_sections

from . import permissions, selectors

PROVISIONS_PER_PAGE = 20
RECENT_DEPLOYMENTS = 15


@member_required
def environment_detail(request, slug: str):
    environment = permissions.get_environment_for_user(request.user, slug)
    page = Paginator(selectors.provisions_list().filter(environment=environment), PROVISIONS_PER_PAGE).get_page(
        request.GET.get("page"))
    deployments = list(deployments_list().filter(environment=environment).order_by("-started_at", "-id")
                       [:RECENT_DEPLOYMENTS])
    return render(request, "environments/environment_detail.html", {
        "environment": environment, "page_obj": page, "deployments": deployments,
        "mismatches": list(selectors.migration_mismatches(environment)[:20]),
        "sections": collect_sections("environment_sections", request, environment),
    })


@member_required
def provision_detail(request, pk: int):
    provision = permissions.get_provision_for_user(request.user, pk)
    return render(request, "environments/provision_detail.html", {
        "provision": provision, "resources": list(provision.resources.all()),
    })
