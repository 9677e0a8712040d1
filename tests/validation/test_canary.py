"""The canary judge: figures equal to scipy's Mann-Whitney U on recorded cohorts (ties, unequal
sizes, small exact samples, identical cohorts), Kayenta's pass/high/low with direction and
tolerance, score and result, and POST /api/v1/deployments/{id}/canary-analysis/ (recorded,
audited, 422 naming the empty cohort, refused to outsiders and other teams)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from scipy.stats import mannwhitneyu

from apps.audit.models import AuditEvent
from apps.delivery.models import Artifact, Deployment
from apps.validation import canary
from apps.validation.models import CanaryAnalysis, HealthPolicy, MetricSampleBatch

# Recorded cohorts (p95 latency in ms, error rates in %) with scipy 1.17.1's answers for
# mannwhitneyu(canary, baseline, alternative="two-sided", method="auto"): (baseline, canary, U, p, method).
FIXTURES = {
    "ties_unequal_sizes": ([120, 125, 125, 130, 131, 131, 140, 150, 150, 151, 160],
                           [140, 150, 150, 155, 160, 161, 161, 170, 175, 180, 190, 200, 201, 210],
                           142.0, 0.0003981977012665442, "asymptotic"),
    "small_without_ties": ([1.2, 1.5, 1.9, 2.2, 2.8], [2.5, 3.1, 3.3, 3.9, 4.2, 4.4],
                           29.0, 0.008658008658008658, "exact"),
    "small_with_ties": ([10, 12, 12, 14], [12, 15, 16, 16, 18], 18.0, 0.06056886020265745, "asymptotic"),
    "identical_constant": ([5.0] * 12, [5.0] * 12, 72.0, 1.0, "asymptotic"),
    "identical_spread": (list(range(1, 11)), list(range(1, 11)), 50.0, 1.0, "asymptotic"),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_figures_equal_scipy_on_recorded_cohorts(name):
    baseline, canary_values, u, p, method = FIXTURES[name]
    result = canary.compare("m", baseline, canary_values, direction="increase_is_bad", tolerance_pct=10)
    reference = mannwhitneyu(canary_values, baseline, alternative="two-sided", method="auto")
    assert result.u == pytest.approx(float(reference.statistic), abs=0) == u
    assert result.p_value == pytest.approx(float(reference.pvalue), rel=1e-12) == pytest.approx(p, rel=1e-12)
    assert result.method == method
    assert (result.baseline_count, result.canary_count) == (len(baseline), len(canary_values))


def test_the_method_reported_is_the_one_scipy_auto_uses():
    # Small without ties: the exact distribution; scipy's explicit "asymptotic" would differ.
    baseline, canary_values, *_ = FIXTURES["small_without_ties"]
    result = canary.compare("m", baseline, canary_values, direction="increase_is_bad", tolerance_pct=10)
    asymptotic = mannwhitneyu(canary_values, baseline, alternative="two-sided", method="asymptotic")
    assert result.method == "exact" and result.p_value != pytest.approx(float(asymptotic.pvalue))
    # Both cohorts above 8 samples: asymptotic even without ties.
    big = canary.compare("m", list(range(9)), [x + 0.5 for x in range(9)], direction="increase_is_bad",
                         tolerance_pct=10)
    assert big.method == "asymptotic"


def test_identical_cohorts_pass_and_do_not_crash():
    result = canary.compare("m", [5.0] * 12, [5.0] * 12, direction="increase_is_bad", tolerance_pct=0)
    assert (result.p_value, result.effect_pct, result.significant, result.classification) == (1.0, 0.0, False, "pass")
    single = canary.compare("m", [3.0], [3.0], direction="decrease_is_bad", tolerance_pct=0)
    assert single.p_value == 1.0 and single.classification == "pass"


SLOW = ([100 + i % 5 for i in range(40)], [130 + i % 5 for i in range(40)])  # +30 %, significant
FAST = (SLOW[1], SLOW[0])  # -23 %, significant


def test_a_significant_increase_beyond_tolerance_is_high_when_increase_is_bad():
    result = canary.compare("latency", *SLOW, direction="increase_is_bad", tolerance_pct=10)
    assert result.significant and result.effect_pct == pytest.approx(30 / 102 * 100)
    assert result.classification == "high"


def test_a_significant_change_in_the_good_direction_passes():
    assert canary.compare("latency", *FAST, direction="increase_is_bad", tolerance_pct=10).classification == "pass"
    assert canary.compare("throughput", *SLOW, direction="decrease_is_bad", tolerance_pct=10).classification == "pass"


def test_a_significant_decrease_beyond_tolerance_is_low_when_decrease_is_bad():
    assert canary.compare("throughput", *FAST, direction="decrease_is_bad", tolerance_pct=10).classification == "low"


def test_an_effect_within_tolerance_passes_even_when_significant():
    result = canary.compare("latency", *SLOW, direction="increase_is_bad", tolerance_pct=30)
    assert result.significant and result.classification == "pass"


def test_a_large_effect_that_is_not_significant_passes():
    baseline, canary_values, *_ = FIXTURES["small_with_ties"]  # p = 0.06
    result = canary.compare("m", baseline, canary_values, direction="increase_is_bad", tolerance_pct=1)
    assert result.effect_pct > 1 and not result.significant and result.classification == "pass"


def test_a_zero_baseline_median_counts_any_significant_rise_as_beyond_tolerance():
    result = canary.compare("errors", [0.0] * 20, [1.0] * 20, direction="increase_is_bad", tolerance_pct=50)
    assert result.effect_pct is None and result.classification == "high"


@pytest.mark.parametrize("passing, total, expected_score, expected_result", [
    (4, 4, 100.0, "pass"), (3, 4, 75.0, "marginal"), (2, 4, 50.0, "fail"), (19, 20, 95.0, "pass"),
])
def test_score_is_the_per_cent_of_passing_metrics_and_the_result_follows_the_thresholds(passing, total,
                                                                                        expected_score,
                                                                                        expected_result):
    config = [{"metric": f"m{i}", "direction": "increase_is_bad", "tolerance_pct": 10} for i in range(total)]
    samples = {f"m{i}": (FAST if i < passing else SLOW) for i in range(total)}
    judgement = canary.judge(config, samples, pass_score=95, marginal_score=75)
    assert judgement.score == expected_score and judgement.result == expected_result


# --- the endpoint -------------------------------------------------------------------------------



@pytest.fixture
def deployment(clock, service, environments, service_account):
    clock("2026-11-18 10:00")
    artifact = Artifact.objects.create(service=service, version="2.4.0", digest="sha256:" + "c" * 64,
                                       format="oci_image")
    return Deployment.objects.create(service=service, environment=environments["prod"], artifact=artifact,
                                     version="2.4.0", status="succeeded", created_by=service_account,
                                     started_at=timezone.now() - timedelta(minutes=30))


@pytest.fixture
def policy(deployment):
    return HealthPolicy.objects.create(
        service=deployment.service, environment=deployment.environment, validation_minutes=60,
        canary_metrics=[{"metric": "p95_latency_ms", "direction": "increase_is_bad", "tolerance_pct": 10},
                        {"metric": "success_rate_pct", "direction": "decrease_is_bad", "tolerance_pct": 1}],
        pass_score=95, marginal_score=50)


def _post_samples(deployment, metric, cohort, values, *, offset_s=0):
    t0 = deployment.started_at.timestamp() + offset_s
    samples = [[t0 + 10 * i, float(v)] for i, v in enumerate(values)]
    MetricSampleBatch.objects.create(deployment=deployment, metric=metric, cohort=cohort, samples=samples,
                                     count=len(samples), first_ts=samples[0][0], last_ts=samples[-1][0])


def _url(deployment):
    return f"/api/v1/deployments/{deployment.pk}/canary-analysis/"


@pytest.mark.django_db
def test_the_analysis_answers_the_contract_and_is_recorded_with_history_and_audit(
        deployment, policy, api_client_for, service_account):
    baseline, canary_values, u, p, _ = FIXTURES["ties_unequal_sizes"]
    _post_samples(deployment, "p95_latency_ms", "baseline", baseline)
    _post_samples(deployment, "p95_latency_ms", "canary", canary_values)
    _post_samples(deployment, "success_rate_pct", "baseline", [99.9, 99.8, 99.9, 99.7, 99.9])
    _post_samples(deployment, "success_rate_pct", "canary", [99.9, 99.9, 99.8, 99.9, 99.8])
    response = api_client_for(service_account).post(_url(deployment), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["method"] == "mann_whitney_u_two_sided" and body["alpha"] == 0.05
    latency, success = body["metrics"]
    assert latency["metric"] == "p95_latency_ms" and latency["u"] == u and latency["p_value"] == pytest.approx(p)
    assert latency["classification"] == "high" and latency["method"] == "asymptotic"
    assert latency["baseline_median"] == 131.0 and latency["canary_median"] == 165.5
    assert success["classification"] == "pass"
    assert (body["score"], body["result"]) == (50.0, "marginal")
    analysis = CanaryAnalysis.objects.get()
    assert analysis.artifact_id == deployment.artifact_id and analysis.result == "marginal"
    assert analysis.history.get().history_user == service_account
    event = AuditEvent.objects.get(action="validation.canary_analysed")
    assert event.details["result"] == "marginal" and event.details["metrics"]["p95_latency_ms"] == "high"


@pytest.mark.django_db
def test_samples_outside_the_validation_window_are_not_judged(deployment, policy, api_client_for, service_account):
    for metric in ("p95_latency_ms", "success_rate_pct"):
        _post_samples(deployment, metric, "baseline", [100, 101, 102])
        _post_samples(deployment, metric, "canary", [100, 101, 102])
    # Hours later: a spike the window does not cover.
    _post_samples(deployment, "p95_latency_ms", "canary", [900] * 50, offset_s=2 * 3600)
    body = api_client_for(service_account).post(_url(deployment), format="json").json()
    assert body["metrics"][0]["canary_count"] == 3 and body["result"] == "pass"


@pytest.mark.django_db
def test_a_cohort_without_samples_answers_422_naming_it(deployment, policy, api_client_for, service_account):
    _post_samples(deployment, "p95_latency_ms", "baseline", [100, 101])
    _post_samples(deployment, "success_rate_pct", "baseline", [99, 98])
    _post_samples(deployment, "success_rate_pct", "canary", [99, 98])
    response = api_client_for(service_account).post(_url(deployment), format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "canary_samples_missing"
    assert list(error["fields"]) == ["canary"] and "p95_latency_ms" in error["fields"]["canary"][0]
    assert not CanaryAnalysis.objects.exists()


@pytest.mark.django_db
def test_without_canary_metrics_in_the_policy_it_answers_422(deployment, api_client_for, service_account):
    response = api_client_for(service_account).post(_url(deployment), format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "canary_not_configured"


@pytest.mark.django_db
def test_an_outsider_gets_nothing(deployment, policy, api_client_for, outsider):
    assert api_client_for(outsider).post(_url(deployment), format="json").status_code in (403, 404)
    assert not CanaryAnalysis.objects.exists()


@pytest.mark.django_db
def test_another_teams_pipeline_may_not_run_it(deployment, policy, api_client_for, other_team):
    from apps.accounts.models import User
    from tests.factories import UserFactory

    other_ci = UserFactory(username="ci-identity", kind=User.Kind.SERVICE_ACCOUNT, owner_team=other_team)
    response = api_client_for(other_ci).post(_url(deployment), format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_service_team"


@pytest.mark.django_db
def test_a_token_without_the_write_scope_is_refused(deployment, policy, api_client_for, service_account):
    client = api_client_for(service_account, scopes=["delivery:read"])
    assert client.post(_url(deployment), format="json").status_code == 403


@pytest.mark.django_db
def test_a_failed_analysis_reaches_the_verdict(deployment, policy, api_client_for, service_account):
    from apps.validation.models import Verdict

    _post_samples(deployment, "p95_latency_ms", "baseline", SLOW[0])
    _post_samples(deployment, "p95_latency_ms", "canary", SLOW[1])
    _post_samples(deployment, "success_rate_pct", "baseline", [99.9 - (i % 3) * 0.01 for i in range(40)])
    _post_samples(deployment, "success_rate_pct", "canary", [90.0 - (i % 3) * 0.01 for i in range(40)])
    client = api_client_for(service_account)
    assert client.post(_url(deployment), format="json").json()["result"] == "fail"
    assert "canary_failed" in Verdict.objects.get(deployment=deployment).reason_codes
    verdict = client.get(f"/api/v1/deployments/{deployment.pk}/verdict/").json()
    assert "canary_failed" in {r["code"] for r in verdict["reasons"]}


@pytest.mark.django_db
def test_a_repeated_idempotency_key_replays_the_first_analysis(deployment, policy, api_client_for, service_account):
    for metric in ("p95_latency_ms", "success_rate_pct"):
        _post_samples(deployment, metric, "baseline", [100, 101, 102])
        _post_samples(deployment, metric, "canary", [100, 101, 103])
    client = api_client_for(service_account)
    first = client.post(_url(deployment), format="json", HTTP_IDEMPOTENCY_KEY="canary-run-1")
    again = client.post(_url(deployment), format="json", HTTP_IDEMPOTENCY_KEY="canary-run-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert CanaryAnalysis.objects.count() == 1
