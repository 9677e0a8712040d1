"""The team settings page lists the last deliveries with their time in words in the viewer's
timezone, in a <time> element that keeps the full ISO instant (seconds included) for machines
(issue #16)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.notifications.models import ChatDelivery

pytestmark = pytest.mark.django_db


def test_a_delivery_reads_when_it_was_made_in_words(receiver, client, lead, team, make_channel):
    channel = make_channel(team, "payments-releases")
    ChatDelivery.objects.create(channel=channel, event="rollback", target_type="delivery.deployment", target_id="1",
                                target_repr="deployment #1", title="t", link="https://portal.example.test/x",
                                status="sent", attempts=1, created_at=datetime(2026, 12, 3, 17, 24, 9, tzinfo=UTC))
    client.force_login(lead)
    html = client.get("/teams/payments/notifications/").content.decode()
    assert '<td class="small"><time datetime="2026-12-03T17:24:09+00:00">3 Dec 2026, 17:24 UTC</time></td>' in html
    assert "2026-12-03 17:24:09" not in html
