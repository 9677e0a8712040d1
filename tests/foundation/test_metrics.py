"""/metrics: Prometheus text with the request, database and portal metrics, for the scraper only."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.audit.models import ChainVerification
from apps.audit.services import audit_event_record
from apps.delivery.models import GateDecision


def _samples(body: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def scrape_token(settings):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    return settings.METRICS_TOKEN


def test_metrics_are_off_when_nothing_admits_a_scraper(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404


def test_a_scrape_without_the_token_gets_nothing(client, scrape_token, superuser):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert b"releaseportal_" not in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    client.force_login(superuser)  # a portal session is not a scrape credential
    assert client.get("/metrics").status_code == 401


def test_an_allowed_network_may_scrape(client, settings, db):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401


def test_portal_metrics_come_from_the_records(client, scrape_token, service, environments, requester,
                                              django_assert_max_num_queries):
    now = timezone.now()
    env = environments["prod"]
    GateDecision.objects.create(service=service, environment=env, decision="allow", reasons=[])
    for _ in range(3):
        GateDecision.objects.create(service=service, environment=env, decision="deny",
                                    reasons=[{"code": "no_approved_change", "message": "x", "severity": "deny"}])
    GateDecision.objects.create(service=service, environment=env, decision="deny",
                                reasons=[{"code": "frozen", "message": "x", "severity": "deny"}],
                                created_at=now - timedelta(days=2))
    event = audit_event_record(action="test.metrics", actor=requester)
    ChainVerification.objects.create(requested_by=requester, requested_at=now - timedelta(hours=2),
                                     finished_at=now - timedelta(hours=1), status="intact")
    client.get("/healthz")
    with django_assert_max_num_queries(10):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {scrape_token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response.content.decode())
    assert samples[("releaseportal_gate_decisions", (("decision", "deny"), ("reason", "no_approved_change")))] == 3
    assert samples[("releaseportal_gate_decisions", (("decision", "allow"), ("reason", "none")))] == 1
    # Older than 24 hours: not in the window.
    assert ("releaseportal_gate_decisions", (("decision", "deny"), ("reason", "frozen"))) not in samples
    assert samples[("releaseportal_audit_chain_head_seq", ())] == event.seq
    assert samples[("releaseportal_audit_chain_last_verification_timestamp_seconds", (("status", "intact"),))] == \
        pytest.approx((now - timedelta(hours=1)).timestamp())
    assert ("releaseportal_approvals_waiting", (("age", "ge_3d"),)) in samples
    assert ("releaseportal_report_render_seconds_count", ()) in samples
    # django-prometheus's request and database metrics are there too.
    names = {name for name, _ in samples}
    assert "django_http_requests_total_by_method_total" in names
    assert any(name.startswith("django_db_execute") for name in names)


def test_the_grafana_dashboard_queries_only_metrics_the_portal_exports(client, scrape_token, db):
    import json
    import re
    from pathlib import Path

    board = json.loads((Path(__file__).resolve().parents[2] / "deploy/grafana/release-portal.json").read_text())
    client.get("/healthz")
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {scrape_token}").content.decode()
    # Every declared family counts, with or without samples yet (a labelled counter with no
    # errors so far is still declared with its HELP and TYPE).
    exported = set()
    for family in text_string_to_metric_families(body):
        exported |= {family.name, f"{family.name}_total", *(f"{family.name}_{s}" for s in ("bucket", "count", "sum"))}
    for panel in board["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\b((?:django|releaseportal)_[a-z_]+)", target["expr"]))
            assert used, target["expr"]
            assert used <= exported, (panel["title"], used - exported)
