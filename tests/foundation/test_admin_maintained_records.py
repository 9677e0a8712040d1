"""What admins maintain in the Django admin, and how: gate policies and webhook secrets as plain
audited edits (secrets masked), tokens and signing keys only through their services, team
membership only through its service."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_a_gate_policy_edit_records_what_changed_and_who_changed_it(admin_client, superuser, environments):
    from apps.delivery.models import EnvironmentPolicy

    policy = EnvironmentPolicy.objects.create(environment=environments["prod"], max_critical=0)
    response = admin_client.post(f"/admin/delivery/environmentpolicy/{policy.pk}/change/", {
        "environment": environments["prod"].pk, "max_critical": "3", "license_deny": "[]", "license_allow": "[]",
        "lock_timeout_minutes": "60", "_save": "Save"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.environmentpolicy.changed")
    assert (event.actor_id, event.actor_type, event.actor_label) == (superuser.pk, "user", "root")
    assert event.details["changes"]["max_critical"] == {"from": 0, "to": 3}
    latest = policy.history.order_by("-history_id").first()
    assert latest.max_critical == 3 and latest.history_user == superuser


def test_a_webhook_secret_never_reaches_the_page_history_or_audit_log(admin_client, superuser):
    from apps.delivery.models import WebhookIntegration

    integration = WebhookIntegration.objects.create(provider="github", name="GitHub", secret="old-s3cret-value")
    url = f"/admin/delivery/webhookintegration/{integration.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"old-s3cret-value" not in page.content
    response = admin_client.post(url, {"provider": "github", "name": "GitHub", "secret": "new-s3cret-value",
                                       "is_active": "on", "_save": "Save"})
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.secret == "new-s3cret-value"
    event = AuditEvent.objects.get(action="admin.webhookintegration.changed")
    assert event.details["changes"]["secret"] == {"from": "********", "to": "********"}
    assert "s3cret" not in json.dumps(event.details)
    assert integration.history.order_by("-history_id").first().history_user == superuser
    # Left blank, the secret is kept (the form never shows it, so it cannot be posted back).
    admin_client.post(url, {"provider": "github", "name": "GitHub (main)", "secret": "", "is_active": "on",
                            "_save": "Save"})
    integration.refresh_from_db()
    assert (integration.name, integration.secret) == ("GitHub (main)", "new-s3cret-value")


def test_a_new_user_password_set_in_the_admin_is_masked_in_the_audit_log(admin_client, superuser):
    from tests.factories import UserFactory

    person = UserFactory(username="pat")
    response = admin_client.post(f"/admin/accounts/user/{person.pk}/password/", {
        "password1": "A-new-long-pass-42", "password2": "A-new-long-pass-42", "usable_password": "true"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password("A-new-long-pass-42")
    event = AuditEvent.objects.get(action="admin.user.changed", object_id=str(person.pk))
    assert event.actor_id == superuser.pk
    assert person.password not in json.dumps(event.details)
    latest = person.history.order_by("-history_id").first()
    assert (latest.history_user_id, latest.history_actor_label) == (superuser.pk, "root")


def test_tokens_are_revoked_through_the_token_service_never_edited(admin_client, superuser, service_account):
    from apps.accounts.services import api_token_create

    token, _ = api_token_create(user=service_account, actor=superuser, name="ci", scopes=["delivery:read"])
    url = f"/admin/accounts/apitoken/{token.pk}/change/"
    assert admin_client.post(url, {"name": "ci", "scopes": '["audit:read"]', "_save": "Save"}).status_code == 403
    response = admin_client.post("/admin/accounts/apitoken/", {"action": "revoke_selected",
                                                              ACTION_CHECKBOX_NAME: [str(token.pk)]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.scopes == ["delivery:read"]
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert (event.actor_id, event.details["reason"]) == (superuser.pk, "revoked in the admin")
    assert token.history.order_by("-history_id").first().history_user == superuser


def test_signing_keys_are_revoked_through_the_delivery_service(admin_client, superuser, team):
    from apps.delivery.models import SigningKey

    key = SigningKey.objects.create(team=team, name="ci", algorithm="ed25519", public_key_pem="pem",
                                    fingerprint="ab" * 32)
    response = admin_client.post("/admin/delivery/signingkey/", {"action": "revoke_selected",
                                                                 ACTION_CHECKBOX_NAME: [str(key.pk)]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.is_active is False and key.revoked_at is not None
    assert AuditEvent.objects.get(action="delivery.signing_key_revoked").actor_id == superuser.pk
    assert key.history.order_by("-history_id").first().history_user == superuser


def test_team_membership_does_not_change_through_the_team_page(admin_client, team, requester):
    from apps.accounts.models import TeamMembership

    membership = TeamMembership.objects.get(team=team, user=requester)
    response = admin_client.get(f"/admin/accounts/team/{team.pk}/change/")
    formsets = response.context["inline_admin_formsets"]
    prefix = formsets[0].formset.prefix
    data = {"name": team.name, "slug": team.slug, f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "1",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000", f"{prefix}-0-id": str(membership.pk),
            f"{prefix}-0-team": str(team.pk), f"{prefix}-0-DELETE": "on", "_save": "Save"}
    admin_client.post(f"/admin/accounts/team/{team.pk}/change/", data)
    assert TeamMembership.objects.filter(pk=membership.pk).exists()


def test_giving_someone_a_role_in_the_admin_says_which_roles_changed(admin_client, superuser, roles_ready):
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    person = UserFactory(username="pat", roles=("requester",))
    url = f"/admin/accounts/user/{person.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: form.initial[name] for name in ("username", "email", "kind")}
    data.update({"groups": [str(Group.objects.get(name=n).pk) for n in ("requester", "approver")],
                 "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00", "_save": "Save"})
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    event = AuditEvent.objects.get(action="admin.user.changed", object_id=str(person.pk))
    assert event.actor_id == superuser.pk
    assert event.details["changes"]["groups"] == {"from": ["requester"], "to": ["approver", "requester"]}


def test_list_editing_the_incident_taxonomy_audits_each_row_it_changes(admin_client, superuser):
    from apps.incidents.models import IncidentClassification

    rows = [IncidentClassification.objects.create(name=name, slug=f"zz-{name.lower()}", is_release_related=False)
            for name in ("Quota", "Tuning")]
    data = {"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000", "_save": "Save"}
    for i, row in enumerate(rows):
        data[f"form-{i}-id"] = str(row.pk)
    data["form-1-is_release_related"] = "on"  # only "Tuning" changes
    response = admin_client.post("/admin/incidents/incidentclassification/", data)
    assert response.status_code == 302
    events = list(AuditEvent.objects.filter(action="admin.incidentclassification.changed"))
    assert [(e.object_id, e.actor_id, e.details["changes"]) for e in events] == [
        (str(rows[1].pk), superuser.pk, {"is_release_related": {"from": False, "to": True}})]
