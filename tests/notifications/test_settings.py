"""A team's chat channels: set by its leads (and superusers) on the team settings page and over
the API, each change with a history row and an audit event; the webhook URL is a secret that
no page, answer, history row or audit event repeats."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.notifications.models import ChatChannel, ChatDelivery

from .conftest import SECRET

pytestmark = pytest.mark.django_db

PAGE = "/teams/payments/notifications/"
API = "/api/v1/teams/payments/chat-channels/"


def _form(receiver, name="payments-releases", **over):
    data = {"new-kind": "slack", "new-name": name, "new-webhook_url": receiver.url(name),
            "new-events": ["approval_requested", "incident_opened"], "new-enabled": "on"}
    data.update(over)
    return data


def test_a_lead_adds_a_channel_on_the_settings_page(receiver, client, lead, team):
    client.force_login(lead)
    response = client.post(PAGE, _form(receiver))
    assert response.status_code == 302

    channel = ChatChannel.objects.get()
    assert (channel.team, channel.kind, channel.events, channel.enabled) == (
        team, "slack", ["approval_requested", "incident_opened"], True)
    assert channel.webhook_url == receiver.url("payments-releases")
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_url FROM notifications_chatchannel")
        [(stored,)] = cursor.fetchall()
    assert stored.startswith("enc:v1:") and SECRET not in stored
    [history] = channel.history.all()
    assert history.history_user == lead and not hasattr(history, "webhook_url")
    event = AuditEvent.objects.get(action="notifications.channel_created")
    assert event.actor_id == lead.pk and event.details["webhook"] == channel.webhook_hint
    assert channel.webhook_hint == "127.0.0.1/…" + SECRET[-4:]

    page = client.get(PAGE).content.decode()
    assert "payments-releases" in page and channel.webhook_hint in page and SECRET not in page


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(receiver, client, lead, settings):
    client.force_login(lead)
    settings.CHAT_WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com"]
    response = client.post(PAGE, _form(receiver))
    assert response.status_code == 400
    assert "Webhooks to 127.0.0.1 are not allowed here" in response.content.decode()
    assert SECRET not in response.content.decode()
    settings.CHAT_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    response = client.post(PAGE, _form(receiver, **{"new-events": []}))
    assert response.status_code == 400 and ChatChannel.objects.count() == 0


def test_editing_keeps_the_url_unless_a_new_one_is_given(receiver, client, lead, team, make_channel):
    channel = make_channel(team, "payments-releases", events=["rollback"], actor=lead)
    client.force_login(lead)
    url = f"/teams/payments/notifications/channels/{channel.pk}/"
    assert SECRET not in client.get(url).content.decode()
    response = client.post(url, {"kind": "teams", "name": "payments-releases", "webhook_url": "",
                                 "events": ["rollback", "gate_denied_prod"], "enabled": ""})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.kind, channel.events, channel.enabled) == ("teams", ["gate_denied_prod", "rollback"], False)
    assert channel.webhook_url == receiver.url("payments-releases")
    client.post(url, {"kind": "teams", "name": "payments-releases", "webhook_url": receiver.url("elsewhere"),
                      "events": ["rollback"], "enabled": "on"})
    channel.refresh_from_db()
    assert channel.webhook_url == receiver.url("elsewhere")
    updates = AuditEvent.objects.filter(action="notifications.channel_updated").order_by("pk")
    assert [sorted(e.details["changes"]) for e in updates] == [["enabled", "events", "kind"], ["enabled", "events", "webhook"]]
    assert updates[1].details["changes"]["webhook"]["replaced"] is True
    assert channel.history.count() == 3 and {h.history_user for h in channel.history.all()} == {lead}


def test_removing_a_channel_is_audited(receiver, client, lead, team, make_channel):
    channel = make_channel(team, "payments-releases", actor=lead)
    client.force_login(lead)
    assert client.post(f"/teams/payments/notifications/channels/{channel.pk}/delete/").status_code == 302
    assert not ChatChannel.objects.exists()
    assert AuditEvent.objects.filter(action="notifications.channel_deleted", actor_id=lead.pk).count() == 1
    assert ChatChannel.history.filter(id=channel.pk, history_type="-").get().history_user == lead


def test_the_api_never_answers_the_url(receiver, api_client_for, lead, team):
    api = api_client_for(lead)
    response = api.post(API, {"kind": "teams", "name": "payments-teams", "webhook_url": receiver.url("payments-teams"),
                              "events": ["incident_opened"]}, format="json")
    assert response.status_code == 201, response.content
    channel_id = response.json()["id"]
    assert response.json()["webhook"] == "127.0.0.1/…" + SECRET[-4:]
    answers = [response.content, api.get(API).content, api.get(f"{API}{channel_id}/").content,
               api.patch(f"{API}{channel_id}/", {"webhook_url": receiver.url("other")}, format="json").content]
    assert all(SECRET not in a.decode() for a in answers)
    assert ChatChannel.objects.get().webhook_url == receiver.url("other")
    history = list(ChatChannel.history.values())
    audit = list(AuditEvent.objects.values("details", "object_repr"))
    assert SECRET not in json.dumps(history, default=str) + json.dumps(audit, default=str)


def test_the_api_refuses_bad_input_naming_the_field(receiver, api_client_for, lead, settings):
    api = api_client_for(lead)
    good = {"kind": "slack", "name": "x", "webhook_url": receiver.url("x"), "events": ["rollback"]}
    bad_event = api.post(API, {**good, "events": ["everything"]}, format="json")
    assert bad_event.status_code == 400
    assert bad_event.json()["error"]["fields"]["events"][0].startswith("Unknown: everything. One of approval_requested")
    settings.CHAT_WEBHOOK_ALLOW_HTTP = False
    plain_http = api.post(API, good, format="json")
    assert plain_http.status_code == 400 and "webhook_url" in plain_http.json()["error"]["fields"]
    assert SECRET not in plain_http.content.decode()
    settings.CHAT_WEBHOOK_ALLOW_HTTP = True
    assert api.post(API, good, format="json").status_code == 201
    taken = api.post(API, good, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["fields"] == {"name": ["Already used in this team."]}
    assert ChatChannel.objects.count() == 1


def test_deliveries_are_listed_for_the_team(receiver, api_client_for, lead, team, other_team, make_channel):
    mine = make_channel(team, "payments-releases")
    theirs = make_channel(other_team, "identity-releases")
    for channel in (mine, theirs):
        ChatDelivery.objects.create(channel=channel, event="rollback", target_type="delivery.deployment", target_id="1",
                                    target_repr="deployment #1", title="t", link="https://portal.example.test/x",
                                    status="failed", attempts=6, last_error="HTTP 503")
    body = api_client_for(lead).get("/api/v1/teams/payments/chat-deliveries/").json()
    assert [(d["channel_name"], d["status"], d["last_error"]) for d in body["results"]] == [
        ("payments-releases", "failed", "HTTP 503")]


def test_outsiders_members_and_other_leads_get_nothing(receiver, client, api_client_for, outsider, requester,
                                                       other_lead, team, make_channel):
    channel = make_channel(team, "payments-releases")
    ours = AuditEvent.objects.filter(action__startswith="notifications.")
    before = (ChatChannel.objects.count(), ours.count())
    pages = [PAGE, f"/teams/payments/notifications/channels/{channel.pk}/"]
    for user, status in ((outsider, 403), (requester, 403), (other_lead, 403)):
        client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == status and SECRET not in response.content.decode()
            assert "payments-releases" not in response.content.decode()
        assert client.post(PAGE, _form(receiver, name="intruder")).status_code == status
        assert client.post(f"/teams/payments/notifications/channels/{channel.pk}/delete/").status_code == status
        api = api_client_for(user)
        for url in (API, f"{API}{channel.pk}/", "/api/v1/teams/payments/chat-deliveries/"):
            answer = api.get(url)
            assert answer.status_code in (403, 404) and "payments-releases" not in answer.content.decode()
        assert api.delete(f"{API}{channel.pk}/").status_code in (403, 404)
        assert api.post(API, {"kind": "slack", "name": "intruder", "webhook_url": receiver.url("i"),
                              "events": ["rollback"]}, format="json").status_code in (403, 404)
    assert (ChatChannel.objects.count(), ours.count()) == before
    client.force_login(outsider)
    assert "payments" not in client.get("/teams/notifications/").content.decode().lower()


def test_a_team_lead_sees_only_the_teams_they_lead(receiver, client, lead, other_lead):
    client.force_login(other_lead)
    page = client.get("/teams/notifications/").content.decode()
    assert "/teams/identity/notifications/" in page and "/teams/payments/notifications/" not in page


def _fill(team, make_channel, channels: int, deliveries: int, start: int = 0):
    made = [make_channel(team, f"channel-{team.slug}-{n}") for n in range(start, start + channels)]
    ChatDelivery.objects.bulk_create([
        ChatDelivery(channel=made[n % channels], event="rollback", target_type="delivery.deployment", target_id=str(n),
                     target_repr=f"deployment #{n}", title="t", link="https://portal.example.test/x")
        for n in range(deliveries)])


def test_the_settings_page_costs_a_fixed_number_of_queries(receiver, client, lead, team, make_channel,
                                                           django_assert_max_num_queries):
    client.force_login(lead)
    _fill(team, make_channel, 2, 3)
    client.get(PAGE)
    with django_assert_max_num_queries(14) as small:
        assert client.get(PAGE).status_code == 200
    _fill(team, make_channel, 8, 60, start=2)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(PAGE)
    assert page.status_code == 200 and page.content.decode().count("channel-payments-") >= 8 + 25


def test_the_channel_forms_are_accessible(receiver, client, lead, team, make_channel):
    from tests.foundation.test_form_accessibility import _assert_accessible

    channel = make_channel(team, "payments-releases", actor=lead)
    client.force_login(lead)
    _assert_accessible(client.get(PAGE).content.decode())
    _assert_accessible(client.post(PAGE, {"new-kind": "slack"}).content.decode())  # with its errors
    _assert_accessible(client.get(f"/teams/payments/notifications/channels/{channel.pk}/").content.decode())
