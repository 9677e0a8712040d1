"""History rows and audit events name who acted: a person in the browser, a token holder over
the API, a Celery task, a management command."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create
from apps.accounts.tasks import revoke_expired_tokens
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_browser_edit_is_attributed_to_the_signed_in_person(client, team, service, requester):
    team.lead = requester
    team.save()
    client.force_login(requester)
    response = client.post(f"/services/{service.slug}/edit/", {
        "name": "Payments API", "description": "card payments", "tier": "1", "compliance_scopes": ["sox", "pci"],
        "repository_url": "https://git.example.test/payments/api",
    })
    assert response.status_code == 302
    latest = service.history.order_by("-history_id").first()
    assert latest.description == "card payments"
    assert latest.history_user == requester
    assert (latest.history_actor_kind, latest.history_actor_label) == ("user", "rita")
    event = AuditEvent.objects.get(action="service.updated")
    assert (event.actor_id, event.actor_type, event.actor_label) == (requester.pk, "user", "rita")
    assert event.details["changes"]["description"] == {"from": "", "to": "card payments"}
    assert event.request_id and event.ip == "127.0.0.1"


def test_an_api_edit_is_attributed_to_the_token_holder(api_client_for, service_account, service):
    from guardian.shortcuts import assign_perm

    assign_perm("catalog.administer_service", service_account, service)
    client = api_client_for(service_account)
    response = client.patch(f"/api/v1/services/{service.slug}/", {"repository_url": "https://git.example.test/x"},
                            format="json", HTTP_X_REQUEST_ID="pipeline-run-42")
    assert response.status_code == 200, response.content
    latest = service.history.order_by("-history_id").first()
    assert latest.history_user == service_account
    assert (latest.history_actor_kind, latest.history_actor_label) == ("service_account", "ci-bot")
    event = AuditEvent.objects.get(action="service.updated")
    assert (event.actor_type, event.actor_label, event.request_id) == ("service_account", "ci-bot", "pipeline-run-42")


def test_a_celery_task_is_attributed_to_the_task(service_account):
    token, _ = api_token_create(user=service_account, actor=service_account, name="old", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert revoke_expired_tokens.delay().get() == 1
    latest = token.history.order_by("-history_id").first()
    assert latest.revoked_reason == "expired"
    assert (latest.history_actor_kind, latest.history_actor_label) == ("task", "task:accounts.revoke_expired_tokens")
    assert latest.history_user.username == "system"
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert (event.actor_type, event.actor_label) == ("task", "task:accounts.revoke_expired_tokens")


def test_a_management_command_is_attributed_to_the_command(service_account):
    call_command("create_api_token", "ci-bot", "--scopes", "catalog:read")
    token = ApiToken.objects.get(user=service_account)
    first = token.history.order_by("history_id").first()
    assert (first.history_actor_kind, first.history_actor_label) == ("command", "command:create_api_token")
    event = AuditEvent.objects.get(action="api_token.created")
    assert (event.actor_type, event.actor_label) == ("command", "command:create_api_token")


def test_someone_who_may_not_edit_a_service_is_refused(client, api_client_for, requester, service):
    client.force_login(requester)
    assert client.get(f"/services/{service.slug}/edit/").status_code == 403
    response = api_client_for(requester).patch(f"/api/v1/services/{service.slug}/", {"tier": 2}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_service_admin"
    service.refresh_from_db()
    assert service.tier == 1


def test_bad_input_to_the_service_api_names_the_field(api_client_for, superuser, service):
    response = api_client_for(superuser).patch(f"/api/v1/services/{service.slug}/",
                                               {"tier": 9, "compliance_scopes": ["sox"]}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error" and "tier" in body["fields"]
    response = api_client_for(superuser).patch(f"/api/v1/services/{service.slug}/",
                                               {"compliance_scopes": ["iso"]}, format="json")
    assert response.status_code == 400 and "compliance_scopes" in response.json()["error"]["fields"]
    assert not AuditEvent.objects.filter(action="service.updated").exists()


def test_an_admin_edit_is_in_history_and_the_audit_log(client, superuser, service):
    client.force_login(superuser)
    url = f"/admin/catalog/service/{service.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"name": "Payments API (admin)", "owner_team": service.owner_team_id, "compliance_scopes": '["sox"]',
                 "tier": 1, "is_active": "on", "_save": "Save"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    latest = service.history.order_by("-history_id").first()
    assert latest.name == "Payments API (admin)" and latest.history_user == superuser
    event = AuditEvent.objects.get(action="admin.service.changed")
    assert event.actor_label == "root" and event.object_id == str(service.pk)
