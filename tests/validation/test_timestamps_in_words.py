"""The validation sections give their timestamps in words and the viewer's timezone ("18 Nov 2026,
09:20 UTC") in <time> elements carrying the ISO instant; no "2026-11-18 09:20" and no bare "UTC"
stuck after a time that was not in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string

from apps.delivery.models import Deployment
from apps.validation.models import (
    CanaryAnalysis,
    CheckRun,
    LogFingerprint,
    LogReview,
    RollbackDecision,
    Verdict,
)

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 18, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def judged(clock, service, environments, requester):
    clock("2026-11-18 10:00")
    deployment = Deployment.objects.create(service=service, environment=environments["prod"], version="2.4.0",
                                           status="rolled_back", started_at=at(9, 0), finished_at=at(9, 3))
    Verdict.objects.create(deployment=deployment, status="failed", action="rollback", judged_at=at(9, 20, 30),
                           window_start=at(9, 3), window_end=at(9, 18),
                           reasons=[{"code": "threshold_breached", "message": "x"}])
    RollbackDecision.objects.create(deployment=deployment, trigger="automatic", decided_at=at(9, 21, 15), reasons=[])
    CanaryAnalysis.objects.create(deployment=deployment, method="Mann-Whitney U", score=50, result="fail",
                                  pass_score=95, marginal_score=75, metrics=[], created_at=at(9, 19))
    CheckRun.objects.create(deployment=deployment, kind="smoke", source="json", total=1, passed=1, failed=0,
                            created_at=at(9, 4))
    review = LogReview.objects.create(deployment=deployment, total_fingerprints=1, new_fingerprints=1,
                                      sign_off_required=True, status="signed_off", signed_off_by=requester,
                                      signed_off_at=at(9, 55))
    LogFingerprint.objects.create(review=review, service=service, fingerprint="fp-1", message="boom", count=3,
                                  first_seen=at(9, 7, 42), is_new=True)
    return deployment, review


def test_the_deployment_page_sections_give_their_times_in_words(client, requester, judged):
    deployment, _ = judged
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert 'judged <time datetime="2026-11-18T09:20:30+00:00">18 Nov 2026, 09:20 UTC</time>' in html
    assert ('window <time datetime="2026-11-18T09:03:00+00:00">18 Nov 2026, 09:03 UTC</time> to '
            '<time datetime="2026-11-18T09:18:00+00:00">18 Nov 2026, 09:18 UTC</time>') in html
    assert '<dd><time datetime="2026-11-18T09:21:15+00:00">18 Nov 2026, 09:21 UTC</time>' in html  # rollback
    assert '<time datetime="2026-11-18T09:19:00+00:00">18 Nov 2026, 09:19 UTC</time>' in html  # canary
    assert '<time datetime="2026-11-18T09:04:00+00:00">18 Nov 2026, 09:04 UTC</time>' in html  # checks
    assert '<time datetime="2026-11-18T09:55:00+00:00">18 Nov 2026, 09:55 UTC</time>' in html  # sign-off
    assert '<time datetime="2026-11-18T09:07:42+00:00">18 Nov 2026, 09:07 UTC</time>' in html  # first seen
    assert "2026-11-18 09:" not in html and "</time> UTC" not in html


def test_the_sections_read_in_the_viewers_timezone(client, requester, judged, settings):
    settings.TIME_ZONE = "America/New_York"
    deployment, _ = judged
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert 'judged <time datetime="2026-11-18T09:20:30+00:00">18 Nov 2026, 04:20 EST</time>' in html
    assert "UTC" not in html.split('id="verdict"', 1)[1].split("</dl>", 1)[0]


def test_the_change_page_log_review_gives_the_sign_off_in_words(judged):
    deployment, review = judged
    html = render_to_string("validation/sections/change_log_review.html",
                            {"data": {"deployment": deployment, "review": review}, "change": deployment.change})
    assert '<time datetime="2026-11-18T09:55:00+00:00">18 Nov 2026, 09:55 UTC</time>' in html
    assert "2026-11-18 09:55" not in html and "</time> UTC" not in html
