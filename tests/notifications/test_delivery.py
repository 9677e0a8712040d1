"""Chat messages reach the owning team's channels, in each service's format, once the change
commits; failures are retried by Celery and the final outcome is recorded and visible."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.changes.services import change_submit
from apps.notifications.models import ChatDelivery

from .conftest import SECRET

pytestmark = pytest.mark.django_db


def _submit(change, requester, capture):
    with capture(execute=True):
        return change_submit(change=change, actor=requester)


def test_an_approval_request_reaches_slack_as_text_and_blocks(receiver, make_channel, team, make_change, requester,
                                                              django_capture_on_commit_callbacks):
    make_channel(team, "payments-slack", kind="slack", events=["approval_requested"])
    change = _submit(make_change(), requester, django_capture_on_commit_callbacks)

    [post] = receiver.to("payments-slack")
    body = post["json"]
    link = f"https://portal.example.test/changes/{change.number}/"
    assert post["headers"]["Content-Type"] == "application/json"
    assert body["text"].startswith(f"Approval needed: {change.number} Upgrade the widget") and link in body["text"]
    section, fields, context = body["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert f"<{link}|Approval needed: {change.number} Upgrade the widget>" in section["text"]["text"]
    assert {"type": "mrkdwn", "text": "*Service*\npayments-api"} in fields["fields"]
    assert context["type"] == "context" and "Approval requested" in context["elements"][0]["text"]
    delivery = ChatDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.event) == ("sent", 1, "approval_requested")
    assert delivery.target_repr == change.number


def test_an_incident_reaches_teams_as_an_adaptive_card(receiver, make_channel, team, service, requester,
                                                       django_capture_on_commit_callbacks):
    from django.utils import timezone

    from apps.incidents.services import incident_open

    make_channel(team, "payments-teams", kind="teams", events=["incident_opened"])
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(service=service, title="Checkout errors", severity="sev2",
                                 started_at=timezone.now(), actor=requester, description="5xx on /pay")

    [post] = receiver.to("payments-teams")
    body = post["json"]
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"].startswith(f"INC-{incident.pk} ") and "Checkout errors" in card["body"][0]["text"]
    assert card["body"][1]["text"] == "5xx on /pay"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Service"] == "payments-api"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Release Portal",
                                "url": f"https://portal.example.test/incidents/{incident.pk}/"}]


def test_a_500_is_retried_and_the_next_attempt_is_sent(receiver, make_channel, team, make_change, requester,
                                                       django_capture_on_commit_callbacks):
    make_channel(team, "flaky", events=["approval_requested"])
    receiver.scripts[f"/flaky/{SECRET}"] = [500, 429]
    _submit(make_change(), requester, django_capture_on_commit_callbacks)

    assert len(receiver.to("flaky")) == 3
    delivery = ChatDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert delivery.finished_at is not None


def test_the_final_failure_is_recorded_audited_and_shown_to_the_lead(receiver, make_channel, team, lead, make_change,
                                                                     requester, client, settings,
                                                                     django_capture_on_commit_callbacks):
    from apps.notifications.tasks import deliver_chat_message

    make_channel(team, "down", events=["approval_requested"])
    receiver.always[f"/down/{SECRET}"] = 503
    _submit(make_change(), requester, django_capture_on_commit_callbacks)

    delivery = ChatDelivery.objects.get()
    assert len(receiver.to("down")) == deliver_chat_message.max_retries + 1 == settings.CHAT_WEBHOOK_MAX_RETRIES + 1
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.last_status_code) == (
        "failed", settings.CHAT_WEBHOOK_MAX_RETRIES + 1, "HTTP 503", None)
    event = AuditEvent.objects.get(action="notifications.delivery_failed")
    assert event.details["attempts"] == settings.CHAT_WEBHOOK_MAX_RETRIES + 1 and event.details["error"] == "HTTP 503"
    client.force_login(lead)
    page = client.get(f"/teams/{team.slug}/notifications/").content.decode()
    assert "failed" in page and "HTTP 503" in page


def test_a_refusal_is_not_retried(receiver, make_channel, team, make_change, requester,
                                  django_capture_on_commit_callbacks):
    make_channel(team, "gone", events=["approval_requested"])
    receiver.always[f"/gone/{SECRET}"] = 404
    _submit(make_change(), requester, django_capture_on_commit_callbacks)

    assert len(receiver.to("gone")) == 1
    delivery = ChatDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.last_status_code) == (
        "failed", 1, "HTTP 404", 404)


def test_an_unreachable_service_is_retried_then_failed_without_the_url_in_any_log(
        receiver, make_channel, team, make_change, requester, caplog, django_capture_on_commit_callbacks):
    channel = make_channel(team, "nowhere", events=["approval_requested"])
    # Nothing listens on the receiver's port once it is shut: connection refused on every attempt.
    receiver.server.shutdown()
    receiver.server.server_close()
    caplog.set_level(logging.DEBUG)
    _submit(make_change(), requester, django_capture_on_commit_callbacks)

    delivery = ChatDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts > 1
    assert delivery.last_error.startswith("unreachable: ")
    assert caplog.records, "the retries and the failure are logged"
    logged = "\n".join(r.getMessage() + repr(r.args) + (r.exc_text or "") for r in caplog.records)
    assert f"chat delivery {delivery.pk} to channel {channel.pk} failed" in logged
    assert SECRET not in logged and "nowhere/" not in logged
    assert SECRET not in repr(AuditEvent.objects.values_list("details", flat=True))


def test_only_the_owning_teams_subscribed_enabled_channels_hear_of_it(
        receiver, make_channel, team, other_team, make_change, requester, django_capture_on_commit_callbacks):
    make_channel(team, "payments-approvals", events=["approval_requested"])
    make_channel(team, "payments-incidents", events=["incident_opened", "rollback"])
    make_channel(team, "payments-muted", events=["approval_requested"], enabled=False)
    make_channel(other_team, "identity-approvals", events=["approval_requested"])
    _submit(make_change(), requester, django_capture_on_commit_callbacks)

    assert [p["path"].split("/")[1] for p in receiver.posts] == ["payments-approvals"]
    assert list(ChatDelivery.objects.values_list("channel__name", flat=True)) == ["payments-approvals"]


def test_a_change_that_rolls_back_sends_nothing(receiver, make_channel, team, make_change, requester,
                                                django_capture_on_commit_callbacks):
    make_channel(team, "payments-approvals", events=["approval_requested"])
    change = make_change()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        change_submit(change=change, actor=requester)
        assert ChatDelivery.objects.count() == 1
        raise RuntimeError("something later in the same transaction failed")

    assert ChatDelivery.objects.count() == 0 and receiver.posts == []


def test_reminders_and_escalations_reach_the_channel(receiver, make_channel, team, make_change, requester,
                                                     release_manager, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from apps.changes.models import OpenStage
    from apps.changes.tasks import approval_reminders_send

    make_channel(team, "payments-reminders", events=["approval_reminder"])
    change = _submit(make_change(), requester, django_capture_on_commit_callbacks)
    assert receiver.posts == []
    stage = OpenStage.objects.get(change=change)
    OpenStage.objects.filter(pk=stage.pk).update(opened_at=timezone.now() - timedelta(hours=3, minutes=30),
                                                 due_at=timezone.now() + timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        approval_reminders_send.delay().get()
    OpenStage.objects.filter(pk=stage.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        approval_reminders_send.delay().get()

    titles = [p["json"]["text"] for p in receiver.to("payments-reminders")]
    assert len(titles) == 2
    assert titles[0].startswith(f"Reminder: {change.number} waits for a decision in Approval")
    assert titles[1].startswith(f"Escalation: {change.number} waited past its SLA in Approval")


def test_a_gate_denial_in_production_is_sent_and_one_in_staging_is_not(
        receiver, make_channel, team, service, environments, service_account, django_capture_on_commit_callbacks):
    from apps.delivery.services import gate_check

    make_channel(team, "payments-gate", events=["gate_denied_prod"])
    with django_capture_on_commit_callbacks(execute=True):
        staging = gate_check(service=service, environment=environments["staging"], artifact_ref="sha256:" + "c" * 64,
                             change_ref="", actor=service_account)
        prod = gate_check(service=service, environment=environments["prod"], artifact_ref="sha256:" + "c" * 64,
                          change_ref="", actor=service_account)
    assert staging.decision == prod.decision == "deny"

    [post] = receiver.to("payments-gate")
    assert post["json"]["text"].startswith("Gate denied payments-api to prod")
    assert "/delivery/gate-decisions/?service=payments-api&environment=prod&decision=deny" in post["json"]["text"]
    delivery = ChatDelivery.objects.get()
    assert (delivery.target_type, delivery.target_id) == ("delivery.gatedecision", str(prod.pk))


def test_a_rollback_deployment_is_sent(receiver, make_channel, team, service, environments, service_account,
                                       django_capture_on_commit_callbacks):
    from apps.delivery.services import deployment_record

    make_channel(team, "payments-rollbacks", events=["rollback"])
    with django_capture_on_commit_callbacks(execute=True):
        first = deployment_record(service=service, environment=environments["staging"], actor=service_account,
                                  status="succeeded", version="1.0.1")
        rollback = deployment_record(service=service, environment=environments["staging"], actor=service_account,
                                     status="succeeded", version="1.0.0", kind="rollback", rollback_of=first)

    [post] = receiver.to("payments-rollbacks")
    assert post["json"]["text"].startswith("Rollback of payments-api in staging to 1.0.0")
    assert f"https://portal.example.test/delivery/deployments/{rollback.pk}/" in post["json"]["text"]
