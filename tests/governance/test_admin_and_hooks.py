"""Generated for the routes the persona matrix does not cover: the Django admin (staff only)
and the webhooks (a signature is the credential, never a session or token)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.governance import routes as table
from tests.governance.conftest import API_PERSONAS, HTML_PERSONAS
from tests.governance.walker import state_changing_routes

# Django's legacy "<object_id>/" redirects are unnamed: they only redirect to the named views below.
ADMIN = [r for r in state_changing_routes()
         if isinstance(table.entry_for(r), table.AdminSite) and not r.name.startswith("<")]
# The admin admits by `is_staff` alone, so roles do not matter: no one, no role, and the two
# personas holding the most power outside the admin.
ADMIN_PERSONAS = ("anonymous", "outsider", "rm_cab", "access_admin")
SIGNED = [r for r in state_changing_routes() if isinstance(table.entry_for(r), table.Signed)]


def _admin_url(route) -> str:
    unnamed = len(re.findall(r"(?<!\\)\((?!\?)", route.pattern))
    if unnamed:
        return reverse(route.name, args=["1"] * unnamed)
    return reverse(route.name, kwargs=_admin_kwargs(route.pattern))


def _admin_kwargs(pattern: str) -> dict:
    kwargs = {}
    for name, body in re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern):
        kwargs[name] = body.split("|")[0] if "|" in body else "1"
    for name in re.findall(r"<(?:\w+:)?(\w+)>", pattern):
        kwargs.setdefault(name, "1")
    return kwargs


def _audit_count() -> int:
    from apps.audit.models import AuditEvent

    return AuditEvent.objects.count()


@pytest.mark.parametrize("route", ADMIN, ids=lambda r: r.name)
def test_the_admin_refuses_every_persona_that_is_not_staff(world, signed_in, db, route):
    assert not any(world.people[p].is_staff for p in HTML_PERSONAS if p != "anonymous")
    url = _admin_url(route)
    login = reverse("admin:login")
    before = _audit_count()
    for persona in ADMIN_PERSONAS:
        response = signed_in[persona].post(url, {"_save": "1", "action": "delete_selected", "post": "yes"})
        assert response.status_code == 302 and response["Location"].startswith(login), (
            f"{persona} reached the admin's {route.name}: {response.status_code}")
    assert _audit_count() == before


@pytest.mark.parametrize("route", SIGNED, ids=lambda r: r.name)
def test_a_webhook_without_its_signature_is_refused_whoever_sends_it(world, db, route):
    from apps.delivery.models import WebhookDelivery

    url = reverse(route.name)
    before = (_audit_count(), WebhookDelivery.objects.count())
    for persona in API_PERSONAS:
        client = APIClient()
        if persona in HTML_PERSONAS and persona != "anonymous":
            client.force_login(world.people[persona])
        elif persona != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[persona]}")
        response = client.post(url, {"action": "created", "deployment": {"id": 1}}, format="json",
                               HTTP_X_GITHUB_EVENT="deployment", HTTP_X_GITLAB_EVENT="Deployment Hook",
                               HTTP_X_GITHUB_DELIVERY="d-1", HTTP_X_GITLAB_EVENT_UUID="u-1")
        assert response.status_code == 401, f"{persona}: {response.status_code} {response.content[:200]}"
    assert (_audit_count(), WebhookDelivery.objects.count()) == before
