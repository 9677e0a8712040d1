"""POST /api/v1/deployments/{id}/metrics/: pairs or a Prometheus query_range body, bounded and
validated field by field; only the owning team's pipeline may post; fixed query counts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.validation.models import MetricSampleBatch

from .conftest import every_10s

pytestmark = pytest.mark.django_db


def _prometheus(values, series=1):
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "checkout", "instance": f"i-{n}"}, "values": values} for n in range(series)]}}


def _url(deployment, query=""):
    return f"/api/v1/deployments/{deployment.pk}/metrics/{query}"


def test_pairs_are_stored_sorted_in_one_batch(deployment, post_samples):
    t0 = deployment.started_at.timestamp()
    response = post_samples(deployment, [[t0 + 20, 2.0], [t0, 1.0], [t0 + 10, 1.5]])
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 3
    batch = MetricSampleBatch.objects.get()
    assert (batch.metric, batch.cohort, batch.source) == ("error_rate_pct", "current", "pairs")
    assert batch.samples == [[t0, 1.0], [t0 + 10, 1.5], [t0 + 20, 2.0]]
    assert (batch.first_ts, batch.last_ts, batch.count) == (t0, t0 + 20, 3)


def test_a_prometheus_body_is_accepted_as_is(deployment, pipeline):
    t0 = deployment.started_at.timestamp()
    body = _prometheus([[t0, "0.5"], [t0 + 15, "1.25"]])
    response = pipeline.post(_url(deployment, "?metric=error_rate_pct&cohort=canary"), body, format="json")
    assert response.status_code == 201, response.content
    batch = MetricSampleBatch.objects.get()
    assert (batch.cohort, batch.source, batch.samples) == ("canary", "prometheus", [[t0, 0.5], [t0 + 15, 1.25]])


def test_the_recorded_prometheus_fixture_shape(deployment, pipeline):
    # What `curl /api/v1/query_range` returns, with its float timestamps and string values.
    t0 = deployment.started_at.timestamp()
    raw = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[t0 + 0.781, "0.0123"], [t0 + 60.781, "NaN"]]}]}})
    response = pipeline.post(_url(deployment, "?metric=error_rate_pct&cohort=current"), raw,
                             content_type="application/json")
    assert response.status_code == 400
    assert "data.result[0].values[1]" in response.json()["error"]["fields"]


@pytest.mark.parametrize(("body", "query", "field"), [
    (_prometheus([[1, "1"]], series=2), "?metric=error_rate_pct&cohort=current", "data.result"),
    ({"status": "success", "data": {"resultType": "vector", "result": []}}, "?metric=e&cohort=current",
     "data.resultType"),
    ({"status": "error", "data": {}}, "?metric=e&cohort=current", "status"),
    (_prometheus([[1, 1.0]]), "?metric=error_rate_pct&cohort=current", "data.result[0].values[0]"),
    (_prometheus([[1, "1"]]), "?cohort=current", "metric"),
    (_prometheus([[1, "1"]]), "?metric=error_rate_pct", "cohort"),
    (_prometheus([]), "?metric=error_rate_pct&cohort=current", "data.result[0].values"),
])
def test_a_bad_prometheus_body_is_refused_naming_the_field(deployment, pipeline, body, query, field):
    response = pipeline.post(_url(deployment, query), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not MetricSampleBatch.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"cohort": "current", "samples": [[1, 1]]}, "metric"),
    ({"metric": "Error Rate", "cohort": "current", "samples": [[1, 1]]}, "metric"),
    ({"metric": "error_rate_pct", "cohort": "blue", "samples": [[1, 1]]}, "cohort"),
    ({"metric": "error_rate_pct", "cohort": "current", "samples": []}, "samples"),
    ({"metric": "error_rate_pct", "cohort": "current", "samples": "1,2"}, "samples"),
    ({"metric": "error_rate_pct", "cohort": "current", "samples": [[1]]}, "samples[0]"),
    ({"metric": "error_rate_pct", "cohort": "current", "samples": [["x", 1]]}, "samples[0]"),
    ({"metric": "error_rate_pct", "cohort": "current", "samples": [[None, True]]}, "samples[0]"),
])
def test_bad_samples_are_refused_naming_the_field(deployment, pipeline, payload, field):
    payload = json.loads(json.dumps(payload).replace("[1, 1]", f"[{deployment.started_at.timestamp()}, 1]"))
    response = pipeline.post(_url(deployment), payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not MetricSampleBatch.objects.exists()


def test_timestamps_must_be_sane(deployment, post_samples):
    future = (timezone.now() + timedelta(hours=1)).timestamp()
    millis = deployment.started_at.timestamp() * 1000
    ancient = (deployment.started_at - timedelta(days=30)).timestamp()
    for ts, hint in ((future, "future"), (millis, "milliseconds"), (ancient, "7 days")):
        response = post_samples(deployment, [[ts, 1.0]])
        assert response.status_code == 400
        assert hint in response.json()["error"]["message"]
        assert response.json()["error"]["code"] == "timestamp_out_of_range"


def test_too_many_samples_in_one_post(deployment, post_samples, settings):
    settings.VALIDATION_MAX_SAMPLES_PER_POST = 10
    response = post_samples(deployment, every_10s(deployment.started_at.timestamp(), 2, 1.0))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_samples"
    assert "samples" in response.json()["error"]["fields"]


def test_a_body_too_large_is_413(deployment, post_samples, settings):
    settings.VALIDATION_MAX_BODY_BYTES = 500
    response = post_samples(deployment, every_10s(deployment.started_at.timestamp(), 10, 1.0))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert not MetricSampleBatch.objects.exists()


def test_only_the_owning_teams_pipeline_posts(deployment, post_samples, api_client_for, outsider, release_manager,
                                              requester):
    from apps.accounts.models import User
    from tests.factories import TeamFactory, UserFactory

    samples = [[deployment.started_at.timestamp(), 1.0]]
    other_ci = UserFactory(username="ci-other", kind=User.Kind.SERVICE_ACCOUNT, owner_team=TeamFactory(slug="other"))
    assert post_samples(deployment, samples, client=api_client_for(outsider)).status_code in (403, 404)
    assert post_samples(deployment, samples, client=api_client_for(other_ci)).json()["error"]["code"] == \
        "not_service_team"
    assert post_samples(deployment, samples, client=api_client_for(release_manager)).status_code == 403
    # The team's people read, but their tokens hold no delivery:write scope.
    assert post_samples(deployment, samples, client=api_client_for(requester)).status_code == 403
    assert not MetricSampleBatch.objects.exists()
    assert post_samples(deployment, samples).status_code == 201


def test_an_outsider_cannot_read_the_series(deployment, api_client_for, outsider):
    assert api_client_for(outsider).get(_url(deployment)).status_code in (403, 404)


def test_the_series_with_their_thresholds(deployment, pipeline, post_samples):
    t0 = deployment.started_at.timestamp()
    post_samples(deployment, [[t0, 1.0]])
    post_samples(deployment, [[t0 + 10, 2.0]])
    body = pipeline.get(_url(deployment)).json()
    assert body["series"] == [{"metric": "error_rate_pct", "cohort": "current", "samples": [[t0, 1.0], [t0 + 10, 2.0]]}]
    assert body["checks"] == [{"metric": "error_rate_pct", "comparator": ">", "threshold": 5.0, "for_minutes": 5}]


def test_posting_and_reading_cost_a_fixed_number_of_queries(deployment, pipeline, post_samples,
                                                            django_assert_max_num_queries):
    t0 = deployment.started_at.timestamp()
    with CaptureQueriesContext(connection) as small_post:
        assert post_samples(deployment, [[t0, 1.0]]).status_code == 201
    with CaptureQueriesContext(connection) as small_get:
        pipeline.get(_url(deployment))
    small_post_count, small_get_count = len(small_post.captured_queries), len(small_get.captured_queries)
    assert small_post_count <= 30 and small_get_count <= 10
    for n in range(1, 30):
        assert post_samples(deployment, [[t0 + n * 20, 1.0], [t0 + n * 20 + 10, 1.0]]).status_code == 201
    with django_assert_max_num_queries(small_post_count):
        assert post_samples(deployment, [[t0 + 700, 1.0]]).status_code == 201
    with django_assert_max_num_queries(small_get_count):
        pipeline.get(_url(deployment))
