"""The deployment page's validation sections: the verdict and why, the charts (series,
thresholds, marker, breach window), the canary table, the checks, the log review and the
rollback decision with its incident; nothing for an outsider; a fixed number of queries
whatever the number of samples."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import Deployment
from apps.validation import charts
from apps.validation.deployment_sections import breach_windows
from apps.validation.models import (
    CanaryAnalysis,
    CheckResult,
    CheckRun,
    LogFingerprint,
    LogReview,
    MetricSampleBatch,
    RollbackDecision,
    Verdict,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 10:00")


def _deployment(service, env, **extra):
    start = timezone.now() - timedelta(hours=1)
    return Deployment.objects.create(service=service, environment=env, version="2.4.0", status="rolled_back",
                                     started_at=start, finished_at=start + timedelta(minutes=3), **extra)


def _samples(deployment, *, per_metric: int, breach_from: int | None = None):
    """Samples every 10 s from the deployment's start; error rate 7 % from sample `breach_from`."""
    t0 = deployment.started_at.timestamp()
    for metric in ("error_rate_pct", "p95_latency_ms"):
        for cohort in ("current", "baseline", "canary"):
            pts = []
            for i in range(per_metric):
                value = 1.0 if metric == "error_rate_pct" else 180.0 + (i % 7)
                if metric == "error_rate_pct" and cohort == "current" and breach_from is not None and i >= breach_from:
                    value = 7.0
                pts.append([t0 + 10 * i, value])
            # posted in batches of 30, as a pipeline would
            for start in range(0, len(pts), 30):
                chunk = pts[start:start + 30]
                MetricSampleBatch.objects.create(deployment=deployment, metric=metric, cohort=cohort, samples=chunk,
                                                 count=len(chunk), first_ts=chunk[0][0], last_ts=chunk[-1][0])


def _judged_failure(deployment, service, *, fingerprints: int = 3, results: int = 3):
    from apps.incidents.models import Incident

    Verdict.objects.create(
        deployment=deployment, status="failed", action="rollback",
        reasons=[{"code": "threshold_breached", "message": "error_rate_pct > 5 held for 6 minutes"},
                 {"code": "canary_failed", "message": "canary score 50 < 75"}],
        inputs={"policy": {"checks": [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5,
                                       "for_minutes": 5}]}})
    incident = Incident.objects.create(service=service, title="Automatic rollback of payments-api 2.4.0",
                                       severity="sev2", started_at=timezone.now(), caused_by_deployment=deployment)
    RollbackDecision.objects.create(deployment=deployment, trigger="automatic", incident=incident,
                                    reasons=[{"code": "threshold_breached", "message": "x"}])
    CanaryAnalysis.objects.create(
        deployment=deployment, method="Mann-Whitney U, two-sided, asymptotic", score=50, result="fail",
        pass_score=95, marginal_score=75,
        metrics=[{"metric": "error_rate_pct", "u": 120.5, "p_value": 0.0001, "baseline_median": 1.0,
                  "canary_median": 7.0, "effect_pct": 600.0, "classification": "high"},
                 {"metric": "p95_latency_ms", "u": 800.0, "p_value": 0.71, "baseline_median": 183.0,
                  "canary_median": 183.0, "effect_pct": 0.0, "classification": "pass"}])
    run = CheckRun.objects.create(deployment=deployment, kind="smoke", source="json", total=results,
                                  passed=results - 1, failed=1)
    for i in range(results):
        CheckResult.objects.create(run=run, name=f"checkout-{i}", status="failed" if i == 0 else "passed",
                                   duration_ms=120)
    review = LogReview.objects.create(deployment=deployment, total_fingerprints=fingerprints,
                                      new_fingerprints=fingerprints, sign_off_required=True)
    for i in range(fingerprints):
        LogFingerprint.objects.create(review=review, service=service, fingerprint=f"fp-{i:04d}",
                                      message=f"NullPointerException in Checkout#{i}", count=10 + i,
                                      first_seen=timezone.now(), is_new=True)
    return incident


@pytest.fixture
def failed(service, environments):
    deployment = _deployment(service, environments["prod"])
    _samples(deployment, per_metric=60, breach_from=20)  # 7 % from +200 s to +590 s: 6.5 minutes
    incident = _judged_failure(deployment, service)
    return deployment, incident


def test_the_page_shows_the_verdict_and_why(client, requester, failed):
    deployment, incident = failed
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert 'data-status="failed"' in html and 'data-action="rollback"' in html
    assert "threshold_breached" in html and "error_rate_pct &gt; 5 held for 6 minutes" in html
    assert f'href="/incidents/{incident.pk}/"' in html and "Automatic (health policy)" in html


def test_the_charts_draw_the_series_thresholds_marker_and_the_breach(client, requester, failed):
    deployment, _ = failed
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    charts_html = re.findall(r'<svg class="metric-chart".*?</svg>', html, re.S)
    assert len(charts_html) == 2  # one per metric
    error_chart = next(c for c in charts_html if "<title id=\"chart-0-t\">error_rate_pct" in c)
    for cohort in ("current", "canary", "baseline"):
        assert f"series-{cohort}" in error_chart
    assert 'class="threshold"' in error_chart and "&gt; 5 for 5 min" in error_chart
    assert 'class="marker"' in error_chart
    assert 'class="breach"' in error_chart  # the 6.5-minute run is highlighted
    assert "breach from" in error_chart  # said in words in the <desc>
    latency_chart = next(c for c in charts_html if "p95_latency_ms" in c)
    assert 'class="breach"' not in latency_chart and 'class="threshold"' not in latency_chart
    assert 'role="img"' in error_chart and 'aria-labelledby="chart-0-t chart-0-d"' in error_chart


def test_the_canary_table_checks_and_new_fingerprints_are_shown(client, requester, failed):
    deployment, _ = failed
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    canary = html[html.index('id="canary-table"'):]
    canary = canary[:canary.index("</table>")]
    assert "Mann-Whitney U, two-sided, asymptotic" in canary
    assert "120.5" in canary and "0.0001" in canary and "600.0 %" in canary and ">high<" in canary
    assert 'data-canary-result="fail"' in html
    assert "Smoke tests" in html and "2/3 passed, 1 failed" in html and "checkout-0" in html
    assert "fp-0000" in html and "NullPointerException in Checkout#2" in html
    assert "sign-off required before the change closes" in html


def test_a_spike_shorter_than_for_minutes_is_not_a_breach_window():
    four_minutes = [(float(10 * i), 7.0 if 10 <= i < 34 else 1.0) for i in range(60)]  # 230 s at 7 %
    six_minutes = [(float(10 * i), 7.0 if 10 <= i < 47 else 1.0) for i in range(60)]  # 360 s at 7 %
    assert breach_windows(four_minutes, ">", 5, 5) == []
    assert breach_windows(six_minutes, ">", 5, 5) == [(100.0, 460.0)]
    assert breach_windows([(0.0, 1.0), (10.0, 0.5)], "<", 0.8, 0) == [(10.0, 10.0)]


def test_the_chart_markup_stays_small_and_keeps_a_spike():
    points = [(float(i), 1.0) for i in range(20_000)]
    points[12_345] = (12_345.0, 99.0)
    reduced = charts.reduce_points(points)
    assert len(reduced) <= charts.MAX_POINTS and (12_345.0, 99.0) in reduced
    svg = charts.render(charts.Chart(metric="m<x>", series={"current": points}), chart_id="c")
    assert len(svg) < 20_000 and "m&lt;x&gt;" in svg and "<script" not in svg


def test_a_deployment_without_validation_data_has_no_sections(client, requester, service, environments):
    deployment = _deployment(service, environments["prod"], )
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    assert "Post-deployment verdict" not in html and "metric-chart" not in html


def test_an_outsider_sees_nothing(client, outsider, failed):
    deployment, _ = failed
    client.force_login(outsider)
    response = client.get(f"/delivery/deployments/{deployment.pk}/")
    assert response.status_code in (403, 404)
    assert b"threshold_breached" not in response.content


@pytest.mark.parametrize("size", [60, 720])
def test_the_page_costs_a_fixed_number_of_queries(client, requester, service, environments, size,
                                                  django_assert_max_num_queries):
    deployment = _deployment(service, environments["prod"])
    _samples(deployment, per_metric=size, breach_from=size // 3)
    _judged_failure(deployment, service, fingerprints=size // 10, results=size // 10)
    client.force_login(requester)
    with django_assert_max_num_queries(14):
        response = client.get(f"/delivery/deployments/{deployment.pk}/")
    assert response.status_code == 200 and b'class="breach"' in response.content


def test_the_judged_breach_window_is_drawn_where_the_judgement_found_it(client, requester, service, environments):
    deployment = _deployment(service, environments["prod"])
    _samples(deployment, per_metric=60)  # nothing breaches in the current cohort
    t0 = deployment.started_at.timestamp()
    Verdict.objects.create(deployment=deployment, status="failed", action="rollback",
                           reasons=[{"code": "threshold_breached", "message": "p95 in the canary cohort"}],
                           inputs={"policy": {"checks": [{"metric": "p95_latency_ms", "comparator": ">",
                                                          "threshold": 150, "for_minutes": 5}]},
                                   "checks": [{"metric": "p95_latency_ms", "breached": True, "cohort": "canary",
                                               "comparator": ">", "threshold": 150, "for_minutes": 5,
                                               "breach_start": t0 + 60, "breach_end": t0 + 360}]})
    client.force_login(requester)
    html = client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    latency = next(c for c in re.findall(r'<svg class="metric-chart".*?</svg>', html, re.S) if "p95_latency_ms" in c)
    errors = next(c for c in re.findall(r'<svg class="metric-chart".*?</svg>', html, re.S) if "error_rate_pct" in c)
    assert 'class="breach"' in latency and "&gt; 150 for 5 min" in latency
    assert 'class="breach"' not in errors
    # the judged breach (+1 to +6 min) is drawn as the whole run it belongs to: the canary
    # cohort stayed above 150 ms until its last sample (+590 s)
    start, end = deployment.started_at + timedelta(seconds=60), deployment.started_at + timedelta(seconds=590)
    assert re.search(rf'breach</span> <time datetime="{start:%Y-%m-%dT%H:%M:%S}[.0-9]*\+00:00">18 Nov 2026, {start:%H:%M} UTC'
                     rf'</time> to <time datetime="{end:%Y-%m-%dT%H:%M:%S}[.0-9]*\+00:00">18 Nov 2026, {end:%H:%M} UTC</time>',
                     html)


def test_a_pending_verdict_polls_its_sections_and_a_final_one_does_not(client, requester, service, environments):
    deployment = _deployment(service, environments["prod"])
    verdict = Verdict.objects.create(deployment=deployment, status="pending", action="wait")
    client.force_login(requester)
    url = f"/validation/deployments/{deployment.pk}/sections/"
    assert f'hx-get="{url}"' in client.get(f"/delivery/deployments/{deployment.pk}/").content.decode()
    verdict.status, verdict.action = "passed", "continue"
    verdict.save()
    partial = client.get(url)
    assert partial.status_code == 200 and 'data-status="passed"' in partial.content.decode()
    assert "hx-get" not in partial.content.decode() and "<html" not in partial.content.decode()


def test_an_outsider_gets_no_sections(client, outsider, failed):
    deployment, _ = failed
    client.force_login(outsider)
    response = client.get(f"/validation/deployments/{deployment.pk}/sections/")
    assert response.status_code in (403, 404) and b"threshold_breached" not in response.content
