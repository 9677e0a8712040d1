"""The threshold rule: a breach holds for `for_minutes` of consecutive samples (the default:
error rate above 5 % for 5 minutes); pending while the window runs, passed after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.validation.models import CanaryAnalysis, CheckRun, Verdict

from .conftest import every_10s

pytestmark = pytest.mark.django_db


def _verdict(pipeline, deployment):
    response = pipeline.get(f"/api/v1/deployments/{deployment.pk}/verdict/")
    assert response.status_code == 200, response.content
    return response.json()


def test_four_minutes_at_seven_per_cent_do_not_trigger(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    assert post_samples(deployment, every_10s(t0, 4, 7.0)).status_code == 201
    verdict = _verdict(pipeline, deployment)
    assert (verdict["status"], verdict["action"]) == ("pending", "wait")
    assert verdict["reasons"] == []
    assert Verdict.objects.get(deployment=deployment).status == "pending"


def test_six_minutes_at_seven_per_cent_trigger(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    response = post_samples(deployment, every_10s(t0, 6, 7.0))
    assert response.status_code == 201
    assert response.json()["verdict"]["action"] == "rollback"
    verdict = _verdict(pipeline, deployment)
    assert (verdict["status"], verdict["action"]) == ("failed", "rollback")
    assert [r["code"] for r in verdict["reasons"]] == ["threshold_breached"]
    assert "error_rate_pct > 5" in verdict["reasons"][0]["message"]
    stored = Verdict.objects.get(deployment=deployment)
    assert stored.status == "failed" and stored.inputs["checks"][0]["breached"] is True


def test_a_breach_posted_in_pieces_still_counts_as_consecutive(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    samples = every_10s(t0, 6, 7.0)
    for start in range(0, len(samples), 6):  # a post a minute, as a pipeline scraping every minute
        post_samples(deployment, samples[start:start + 6])
    assert _verdict(pipeline, deployment)["status"] == "failed"


def test_a_single_healthy_sample_resets_the_run(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    samples = every_10s(t0, 8, 7.0)
    samples[24][1] = 1.0  # at minute 4: healthy once, so no 5-minute run
    post_samples(deployment, samples)
    assert _verdict(pipeline, deployment)["status"] == "pending"


def test_two_spikes_far_apart_are_not_a_run(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    post_samples(deployment, [[t0, 9.0], [t0 + 360, 9.0]])
    assert _verdict(pipeline, deployment)["status"] == "pending"


def test_baseline_samples_are_not_judged(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp() + 60
    post_samples(deployment, every_10s(t0, 8, 30.0), cohort="baseline")
    assert _verdict(pipeline, deployment)["status"] == "pending"


def test_samples_outside_the_window_are_kept_but_not_judged(make_deployment, pipeline, post_samples):
    # started 80 min ago, finished 75 min ago, 60-min window: it ended 15 minutes ago.
    deployment = make_deployment(started_minutes_ago=80, finished_minutes_ago=75)
    after_window = (timezone.now() - timedelta(minutes=14)).timestamp()
    assert post_samples(deployment, every_10s(after_window, 8, 50.0)).status_code == 201
    verdict = _verdict(pipeline, deployment)
    assert (verdict["status"], verdict["action"]) == ("passed", "continue")
    assert deployment.metric_batches.get().count == 49


def test_passed_and_continue_after_a_quiet_window(make_deployment, pipeline, post_samples):
    deployment = make_deployment(started_minutes_ago=80, finished_minutes_ago=75)
    post_samples(deployment, every_10s(deployment.started_at.timestamp(), 60, 0.5))
    assert _verdict(pipeline, deployment) == {
        "status": "passed", "action": "continue", "reasons": [], "canary": None,
        "window": {"start": deployment.started_at.isoformat(),
                   "end": (deployment.finished_at + timedelta(minutes=60)).isoformat()},
        "rollback": None}


def test_an_unfinished_deployment_waits(make_deployment, pipeline):
    deployment = make_deployment(finished_minutes_ago=None)
    assert _verdict(pipeline, deployment)["action"] == "wait"


def test_the_changes_own_rollback_criteria_are_checks(make_deployment, make_change, pipeline, post_samples):
    change = make_change(rollback_criteria={"p95_latency_ms": 800, "window_minutes": 2})
    deployment = make_deployment(change=change)
    t0 = deployment.started_at.timestamp() + 60
    post_samples(deployment, every_10s(t0, 2.5, 950.0), metric="p95_latency_ms")
    verdict = _verdict(pipeline, deployment)
    assert verdict["status"] == "failed"
    assert "p95_latency_ms > 800" in verdict["reasons"][0]["message"]
    assert "rollback criteria" in verdict["reasons"][0]["message"]


def test_smoke_missing_after_the_deadline(pinned, make_deployment, pipeline, service, environments):
    from apps.validation.models import HealthPolicy

    HealthPolicy.objects.create(service=service, environment=environments["prod"], smoke_required_within_minutes=15)
    on_time = make_deployment(finished_minutes_ago=10)
    late = make_deployment(finished_minutes_ago=20)
    assert _verdict(pipeline, on_time)["status"] == "pending"
    verdict = _verdict(pipeline, late)
    assert verdict["status"] == "failed"
    assert [r["code"] for r in verdict["reasons"]] == ["smoke_missing"]


def test_a_smoke_run_in_time_satisfies_the_requirement(pinned, make_deployment, pipeline, service, environments, clock):
    from apps.validation.models import HealthPolicy

    HealthPolicy.objects.create(service=service, environment=environments["prod"], smoke_required_within_minutes=15)
    deployment = make_deployment(finished_minutes_ago=10)
    response = pipeline.post(f"/api/v1/deployments/{deployment.pk}/checks/",
                             {"kind": "smoke", "results": [{"name": "login", "status": "passed", "duration_ms": 40}]},
                             format="json")
    assert response.status_code == 201
    clock("2026-11-18 10:30")
    assert _verdict(pipeline, deployment)["status"] == "pending"


def test_canary_results_come_from_the_latest_analysis(deployment, pipeline):
    common = {"deployment": deployment, "method": "mann_whitney_u_two_sided", "metrics": [], "pass_score": 95,
              "marginal_score": 75}
    CanaryAnalysis.objects.create(score=100, result="pass", **common)
    assert _verdict(pipeline, deployment)["canary"]["result"] == "pass"
    CanaryAnalysis.objects.create(score=80, result="marginal", **common)
    verdict = _verdict(pipeline, deployment)
    assert [r["code"] for r in verdict["reasons"]] == ["canary_marginal"] and verdict["status"] == "pending"
    CanaryAnalysis.objects.create(score=50, result="fail", **common)
    verdict = _verdict(pipeline, deployment)
    assert [r["code"] for r in verdict["reasons"]] == ["canary_failed"]
    assert (verdict["status"], verdict["action"]) == ("failed", "rollback")
    assert verdict["canary"]["score"] == 50


def test_a_failed_smoke_run_fails_the_deployment(deployment, pipeline):
    response = pipeline.post(f"/api/v1/deployments/{deployment.pk}/checks/",
                             {"kind": "smoke", "results": [{"name": "login", "status": "failed"},
                                                           {"name": "pay", "status": "passed"}]}, format="json")
    assert response.status_code == 201
    assert response.json()["verdict"]["reasons"][0]["code"] == "smoke_failed"
    assert CheckRun.objects.get().failed == 1


def test_the_verdict_costs_a_fixed_number_of_queries(deployment, pipeline, post_samples,
                                                    django_assert_max_num_queries):
    from apps.validation.models import MetricSampleBatch

    t0 = deployment.started_at.timestamp()
    post_samples(deployment, every_10s(t0, 1, 1.0))
    with CaptureQueriesContext(connection) as small:
        _verdict(pipeline, deployment)
    small_count = len(small.captured_queries)
    assert small_count <= 12
    for minute in range(1, 40):
        MetricSampleBatch.objects.create(deployment=deployment, metric="error_rate_pct", cohort="current",
                                         samples=[[t0 + minute * 60, 1.0]], count=1, first_ts=t0 + minute * 60,
                                         last_ts=t0 + minute * 60)
    with django_assert_max_num_queries(small_count):
        _verdict(pipeline, deployment)


def test_an_outsider_gets_no_verdict(deployment, api_client_for, outsider):
    assert api_client_for(outsider).get(f"/api/v1/deployments/{deployment.pk}/verdict/").status_code in (403, 404)


def test_the_beat_task_moves_pending_verdicts_with_time(pinned, make_deployment, post_samples, clock):
    from apps.validation.tasks import judge_open_deployments

    deployment = make_deployment(started_minutes_ago=15, finished_minutes_ago=10)
    post_samples(deployment, [[deployment.started_at.timestamp(), 0.5]])
    assert Verdict.objects.get(deployment=deployment).status == "pending"
    clock("2026-11-18 10:49")
    assert judge_open_deployments.delay().get() == 1
    assert Verdict.objects.get(deployment=deployment).status == "pending"
    clock("2026-11-18 10:51")  # the 60-minute window after 09:50 is over
    judge_open_deployments.delay().get()
    verdict = Verdict.objects.get(deployment=deployment)
    assert (verdict.status, verdict.action) == ("passed", "continue")
    assert verdict.history.count() == 2


def test_the_beat_task_rolls_back_a_deployment_whose_smoke_never_came(pinned, make_deployment, post_samples, clock,
                                                                     service, environments,
                                                                     django_capture_on_commit_callbacks):
    from apps.validation.models import HealthPolicy, RollbackDecision
    from apps.validation.tasks import judge_open_deployments

    HealthPolicy.objects.create(service=service, environment=environments["prod"], smoke_required_within_minutes=15,
                                auto_rollback=True)
    deployment = make_deployment(finished_minutes_ago=10)
    post_samples(deployment, [[deployment.started_at.timestamp(), 0.5]])
    clock("2026-11-18 10:06")
    with django_capture_on_commit_callbacks(execute=True):
        judge_open_deployments.delay().get()
    decision = RollbackDecision.objects.get(deployment=deployment)
    assert [r["code"] for r in decision.reasons] == ["smoke_missing"]
    assert decision.incident.caused_by_deployment == deployment


def test_a_retried_post_with_its_idempotency_key_stores_nothing_twice(deployment, pipeline):
    from apps.validation.models import MetricSampleBatch

    body = {"metric": "error_rate_pct", "cohort": "current", "samples": [[deployment.started_at.timestamp(), 1.0]]}
    url = f"/api/v1/deployments/{deployment.pk}/metrics/"
    first = pipeline.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="scrape-0001")
    again = pipeline.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="scrape-0001")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert MetricSampleBatch.objects.get().count == 1


def test_the_beat_task_finds_a_silent_deployment_whose_smoke_never_came(pinned, make_deployment, clock, service,
                                                                       environments):
    from apps.validation.models import HealthPolicy
    from apps.validation.tasks import judge_open_deployments

    HealthPolicy.objects.create(service=service, environment=environments["prod"], smoke_required_within_minutes=15)
    silent = make_deployment(finished_minutes_ago=10)
    make_deployment("staging", finished_minutes_ago=10)  # no smoke requirement there: not judged
    clock("2026-11-18 10:06")
    assert judge_open_deployments.delay().get() == 1
    verdict = Verdict.objects.get()
    assert verdict.deployment == silent and verdict.reason_codes == ["smoke_missing"]
