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
    # The admin's history page gives each row's time in words, with the instant for machines.
    page = client.get(f"/admin/catalog/service/{service.pk}/history/").content.decode()
    instant = latest.history_date
    assert f'<time datetime="{instant.isoformat()}">{instant.day} {instant:%b %Y, %H:%M} UTC</time>' in page


# --- Services called outside any request: history names the actor the service was given ----------

class _Written:
    """History rows (of every governed model) and audit events written inside a `with` block."""

    def __init__(self):
        from django.apps import apps

        from apps.audit.history import ActorStampedHistory

        self.models = [m for m in apps.get_models() if issubclass(m, ActorStampedHistory)]

    def __enter__(self):
        from django.db.models import Max

        self._history = {m: m.objects.aggregate(top=Max("history_id"))["top"] or 0 for m in self.models}
        self._seq = AuditEvent.objects.aggregate(top=Max("seq"))["top"] or 0
        return self

    def __exit__(self, *exc):
        self.rows = [row for m, top in self._history.items() for row in m.objects.filter(history_id__gt=top)]
        self.events = list(AuditEvent.objects.filter(seq__gt=self._seq))
        return False


def _assert_history_names_the_audited_actor(written, user):
    assert written.events, "the service wrote no audit event"
    assert written.rows, "the service wrote no history row"
    for event in written.events:
        assert (event.actor_id, event.actor_type, event.actor_label) == (user.pk, "user", user.username), event.action
    for row in written.rows:
        who = (row.history_user_id, row.history_actor_kind, row.history_actor_label)
        assert who == (user.pk, "user", user.username), f"{row._meta.label} #{row.pk} says {who}"


@pytest.fixture
def simple_type(db):
    from apps.change_types.models import ApprovalStage, ChangeType

    change_type = ChangeType.objects.create(slug="simple", name="Simple")
    ApprovalStage.objects.create(change_type=change_type, order=1, name="Approval", approver_kind="group",
                                 approver_group="approver", rule="any", quorum=1, sla_hours=24, mandatory=True,
                                 applies_when="always")
    return change_type


def test_change_services_write_history_as_their_actor(simple_type, requester, approver, cab_member, release_manager,
                                                       service, environments):
    from apps.changes.services import (
        approval_record,
        change_create,
        change_submit,
        delegation_create,
        freeze_create,
    )

    start = timezone.now() + timedelta(days=3)
    with _Written() as written:
        change = change_create(actor=requester, title="Rotate keys", change_type=simple_type, service=service,
                               environment=environments["staging"], planned_start=start,
                               planned_end=start + timedelta(hours=1), rollback_plan="Redeploy previous")
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        change_submit(change=change, actor=requester)
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        approval_record(change=change, approver=approver, decision="approve", comment="fine")
    _assert_history_names_the_audited_actor(written, approver)
    with _Written() as written:
        delegation_create(delegator=approver, delegate=cab_member, ends_at=timezone.now() + timedelta(days=2),
                          actor=approver)
    _assert_history_names_the_audited_actor(written, approver)
    with _Written() as written:
        freeze_create(actor=release_manager, name="Year end", reason="closing the books",
                      starts_at=start, ends_at=start + timedelta(days=1))
    _assert_history_names_the_audited_actor(written, release_manager)


def test_delivery_services_write_history_as_their_actor(requester, service, environments):
    from apps.delivery.services import artifact_register, deployment_record, deployment_update

    with _Written() as written:
        artifact = artifact_register(service=service, version="1.4.0", digest="sha256:" + "ab" * 32,
                                     format="oci_image", actor=requester).artifact
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        deployment = deployment_record(service=service, environment=environments["staging"], artifact=artifact,
                                       actor=requester)
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        deployment_update(deployment=deployment, status="succeeded", actor=requester)
    _assert_history_names_the_audited_actor(written, requester)


def test_incident_services_write_history_as_their_actor(requester, service):
    from apps.incidents.services import incident_edit, incident_open, incident_post_update

    with _Written() as written:
        incident = incident_open(service=service, title="Card payments failing", severity="sev3",
                                 started_at=timezone.now() - timedelta(hours=2), actor=requester)
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        incident_post_update(incident=incident, actor=requester, message="Rolling back", to_status="mitigated")
    _assert_history_names_the_audited_actor(written, requester)
    with _Written() as written:
        incident_edit(incident=incident, actor=requester, title="Card payments failing in EU")
    _assert_history_names_the_audited_actor(written, requester)


def test_access_review_services_write_history_as_their_actor(access_admin, approver, service, environments):
    from apps.access_reviews.services import grant_create, grant_revoke

    with _Written() as written:
        grant = grant_create(user=approver, privilege="approver", service=service, environment=environments["prod"],
                             justification="on call", actor=access_admin)
    _assert_history_names_the_audited_actor(written, access_admin)
    with _Written() as written:
        grant_revoke(grant=grant, reason="rotation", actor=access_admin)
    _assert_history_names_the_audited_actor(written, access_admin)


def test_catalog_and_account_services_write_history_as_their_actor(requester, superuser, service, team):
    from apps.accounts.services import team_membership_add
    from apps.catalog.services import service_update
    from tests.factories import UserFactory

    with _Written() as written:
        service_update(service=service, actor=superuser, description="card payments")
    _assert_history_names_the_audited_actor(written, superuser)
    newbie = UserFactory(username="newbie")
    with _Written() as written:
        team_membership_add(team=team, user=newbie, actor=superuser)
    _assert_history_names_the_audited_actor(written, superuser)


def test_an_explicit_actor_wins_over_the_signed_in_request_user(requester, approver, service):
    """A service called during someone else's request (a view acting for a pipeline, a task run
    eagerly) still records the actor it was given, in history as in the audit log."""
    from django.test import RequestFactory

    from apps.audit.actor import RequestContext, request_context
    from apps.catalog.services import service_update

    request = RequestFactory().get("/")
    request.user = approver
    with request_context(RequestContext(request_id="r1", ip="127.0.0.1", request=request)), _Written() as written:
        service_update(service=service, actor=requester, description="changed for rita")
    _assert_history_names_the_audited_actor(written, requester)
