"""The profile's token table gives expiry as a day and last use in words in the viewer's timezone,
in a <time> element that keeps the ISO instant for machines (issue #16)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.services import api_token_create

pytestmark = pytest.mark.django_db


def test_token_expiry_and_last_use_read_in_words(clock, client, requester):
    clock("2026-12-03 09:00")
    used, _ = api_token_create(user=requester, actor=requester, name="ci", expires_in_days=28)
    ApiToken.objects.filter(pk=used.pk).update(last_used_at=datetime(2026, 12, 3, 17, 24, tzinfo=UTC))
    api_token_create(user=requester, actor=requester, name="laptop")
    client.force_login(requester)
    html = client.get("/account/").content.decode()
    row = re.search(r"<td>ci</td>.*?</tr>", html, re.S).group(0)
    assert "<td>31 Dec 2026</td>" in row
    assert '<td><time datetime="2026-12-03T17:24:00+00:00">3 Dec 2026, 17:24 UTC</time></td>' in row
    unused = re.search(r"<td>laptop</td>.*?</tr>", html, re.S).group(0)
    assert "<td>never</td>" in unused and "<td>—</td>" in unused
    assert "2026-12-31" not in html and "2026-12-03 17:24" not in html
