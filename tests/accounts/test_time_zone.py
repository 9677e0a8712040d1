"""Each person reads times in the timezone they choose on their profile: pages only. Due dates,
business days, the API, evidence packs and reports keep the portal's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.accounts.services import user_time_zone_set
from apps.audit.models import AuditEvent
from releaseportal.errors import InvalidInput, NotAllowed
from releaseportal.templatetags.portal import viewer_time_zone, when_text

pytestmark = pytest.mark.django_db

INSTANT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_choosing_a_timezone_is_in_history_and_the_audit_log(client, requester):
    client.force_login(requester)
    response = client.post("/account/time-zone/", {"time_zone": "Europe/Berlin"}, follow=True)
    assert response.status_code == 200
    assert "Times are now shown in Europe/Berlin." in response.content.decode()
    requester.refresh_from_db()
    assert requester.time_zone == "Europe/Berlin"
    latest = requester.history.order_by("-history_id").first()
    assert latest.time_zone == "Europe/Berlin" and latest.history_user == requester
    event = AuditEvent.objects.get(action="account.time_zone_set")
    assert event.actor_label == requester.username
    assert event.details == {"from": "UTC", "to": "Europe/Berlin"}
    # The picker shows the choice, and going back to the default is one more choice.
    assert '<option selected>Europe/Berlin</option>' in client.get("/account/").content.decode()
    client.post("/account/time-zone/", {"time_zone": ""})
    requester.refresh_from_db()
    assert requester.time_zone == ""


def test_an_unknown_timezone_is_refused_naming_the_field_and_nothing_changes(client, requester):
    client.force_login(requester)
    page = client.post("/account/time-zone/", {"time_zone": "Mars/Olympus_Mons"}, follow=True).content.decode()
    assert "Unknown timezone &#x27;Mars/Olympus_Mons&#x27;." in page
    with pytest.raises(InvalidInput) as exc:
        user_time_zone_set(user=requester, time_zone="../../etc/passwd", actor=requester)
    assert "time_zone" in exc.value.fields
    requester.refresh_from_db()
    assert requester.time_zone == "" and not AuditEvent.objects.filter(action="account.time_zone_set").exists()


def test_a_person_sets_only_their_own(requester, approver):
    with pytest.raises(NotAllowed):
        user_time_zone_set(user=approver, time_zone="Asia/Tokyo", actor=requester)
    approver.refresh_from_db()
    assert approver.time_zone == ""


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.post("/account/time-zone/", {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_pages_read_in_the_viewers_timezone_and_the_api_keeps_utc(client, api_client_for, requester, clock):
    clock("2026-12-03 09:30")
    user_time_zone_set(user=requester, time_zone="Asia/Tokyo", actor=requester)
    client.force_login(requester)
    html = client.get("/account/").content.decode()
    assert "times in Asia/Tokyo" in html
    # A token's last use, read in Tokyo (UTC+9).
    from apps.accounts.models import ApiToken
    from apps.accounts.services import api_token_create

    token, _ = api_token_create(user=requester, actor=requester, name="laptop")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=INSTANT)
    html = client.get("/account/").content.decode()
    assert '<time datetime="2026-12-03T09:00:00+00:00">3 Dec 2026, 18:00 JST</time>' in html
    # Someone else still reads the portal's own timezone.
    assert when_text(INSTANT) == "3 Dec 2026, 09:00 UTC"
    # The API's instants are machine values: UTC, by token or by this person's own session.
    assert api_client_for(requester).get("/api/v1/tokens/").status_code == 200
    body = client.get("/api/v1/tokens/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert any(r.get("last_used_at") == "2026-12-03T09:00:00Z" for r in rows), rows


def test_documents_read_in_the_portals_timezone_whoever_generates_them():
    from zoneinfo import ZoneInfo

    with viewer_time_zone(ZoneInfo("America/New_York")):
        assert when_text(INSTANT) == "3 Dec 2026, 04:00 EST"
        with viewer_time_zone(None):
            assert when_text(INSTANT) == "3 Dec 2026, 09:00 UTC"
