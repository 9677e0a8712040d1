"""Deployment strategy: the recommendation from risk, tier and history (with reasons in words), and
the choice recorded with why."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases.models import StrategyDecision
from apps.releases.strategy import DeployHistory, recommend_strategy, strategy_decision_record
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

CALM = DeployHistory()
TROUBLED = DeployHistory(failed=2, rollbacks=1)


def change(tier=3, level="low", **answers):
    return SimpleNamespace(service=SimpleNamespace(tier=tier), service_id=1, risk_level=level, risk_answers=answers)


# --- the rules (pure) ---------------------------------------------------------------------------

def test_tier_1_with_recent_failures_gets_a_canary():
    got = recommend_strategy(change(tier=1, level="low"), TROUBLED)
    assert got.strategy == "canary"
    assert "Tier-1 service with 2 failed deployments and 1 rollback" in got.reasons[0]


def test_the_same_service_without_failures_rolls():
    assert recommend_strategy(change(tier=1, level="low"), CALM).strategy == "rolling"


def test_a_database_change_on_a_critical_service_is_blue_green():
    got = recommend_strategy(change(tier=2, level="medium", database_change=True), TROUBLED)
    assert got.strategy == "blue_green"
    assert any("database" in r for r in got.reasons) and any("backward compatible" in r for r in got.reasons)


def test_a_database_change_on_a_tier_3_service_is_recreate():
    got = recommend_strategy(change(tier=3, database_change=True), CALM)
    assert got.strategy == "recreate" and "two versions never write one database" in got.reasons[1]


def test_low_risk_tier_3_rolls_even_with_failures():
    got = recommend_strategy(change(tier=3, level="low"), TROUBLED)
    assert got.strategy == "rolling"


@pytest.mark.parametrize(("tier", "level", "expected"), [(3, "high", "canary"), (4, "critical", "canary"),
                                                         (1, "medium", "canary"), (2, "medium", "rolling")])
def test_risk_and_tier(tier, level, expected):
    assert recommend_strategy(change(tier=tier, level=level), CALM).strategy == expected


def test_reasons_are_words():
    got = recommend_strategy(change(tier=3, level="low"), CALM)
    assert got.reasons and all(isinstance(r, str) and r.endswith(".") for r in got.reasons)


# --- history read from the record ---------------------------------------------------------------

@pytest.mark.django_db
def test_production_failures_of_the_last_30_days_count(make_change, environments, service, clock):
    from apps.delivery.models import Deployment

    clock("2026-06-16 10:00")
    chg = make_change(state="approved", env="prod")
    Deployment.objects.create(service=service, environment=environments["prod"], status="failed",
                              started_at=timezone.now() - timedelta(days=40))
    Deployment.objects.create(service=service, environment=environments["staging"], status="failed")
    assert recommend_strategy(chg).strategy == "rolling"
    Deployment.objects.create(service=service, environment=environments["prod"], status="rolled_back",
                              started_at=timezone.now() - timedelta(days=3))
    got = recommend_strategy(chg)
    assert got.strategy == "canary" and "1 failed deployment and 0 rollbacks" in got.reasons[0]


# --- recording the choice -----------------------------------------------------------------------

@pytest.mark.django_db
def test_the_choice_is_recorded_with_why(make_change, requester, release_manager):
    chg = make_change(state="approved", env="prod")
    first = strategy_decision_record(change=chg, strategy="rolling", actor=requester)
    assert first.recommended == "rolling" and first.reason == "" and first.decided_by == requester
    with pytest.raises(InvalidInput) as exc:
        strategy_decision_record(change=chg, strategy="blue_green", actor=release_manager)
    assert exc.value.code == "reason_required" and "reason" in exc.value.fields
    # Said in the words the page uses, not the stored values (blue_green).
    assert exc.value.message == "The recommendation is rolling: say why blue/green is chosen instead."
    second = strategy_decision_record(change=chg, strategy="blue_green", reason="the load balancer cannot split",
                                      actor=release_manager)
    assert second.pk == first.pk and second.strategy == "blue_green" and second.recommended == "rolling"
    assert [h.strategy for h in second.history.order_by("history_id")] == ["rolling", "blue_green"]
    assert second.history.order_by("history_id").last().history_user == release_manager
    events = AuditEvent.objects.filter(action="change.strategy_decided").order_by("pk")
    assert [e.details["strategy"] for e in events] == ["rolling", "blue_green"]
    assert events.last().details["reason"] == "the load balancer cannot split"


@pytest.mark.django_db
def test_an_unknown_strategy_is_refused(make_change, requester):
    chg = make_change(state="approved", env="prod")
    with pytest.raises(InvalidInput) as exc:
        strategy_decision_record(change=chg, strategy="big_bang", reason="why not", actor=requester)
    assert "strategy" in exc.value.fields
    assert not StrategyDecision.objects.exists()


@pytest.mark.django_db
def test_only_the_changes_people_or_a_release_manager_choose(make_change, approver, outsider):
    chg = make_change(state="approved", env="prod")
    for user in (approver, outsider):
        with pytest.raises(NotAllowed):
            strategy_decision_record(change=chg, strategy="rolling", actor=user)
    assert not StrategyDecision.objects.exists()


@pytest.mark.django_db
def test_a_closed_change_keeps_its_strategy(make_change, requester):
    chg = make_change(state="completed", env="prod", approved=False)
    chg.state = "rolled_back"
    chg.save(update_fields=["state"])
    with pytest.raises(Conflict) as exc:
        strategy_decision_record(change=chg, strategy="rolling", actor=requester)
    assert exc.value.message == f"{chg.number} is rolled back: its strategy is history."


# --- API and page -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_api_gives_the_recommendation_and_records_the_choice(make_change, api_client_for, requester, approver):
    chg = make_change(state="approved", env="prod")
    url = f"/api/v1/changes/{chg.number}/strategy/"
    got = api_client_for(approver).get(url)
    assert got.status_code == 200
    assert got.json()["recommendation"]["strategy"] == "rolling" and got.json()["decision"] is None
    assert got.json()["recommendation"]["reasons"]
    api = api_client_for(requester)
    bad = api.post(url, {"strategy": "big_bang"}, format="json")
    assert bad.status_code == 400 and "strategy" in bad.json()["error"]["fields"]
    missing = api.post(url, {"strategy": "canary"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "reason_required"
    assert api_client_for(approver).post(url, {"strategy": "rolling"}, format="json").status_code == 403
    made = api.post(url, {"strategy": "canary", "reason": "new cache layer"}, format="json")
    assert made.status_code == 201
    assert made.json()["decision"]["strategy"] == "canary" and made.json()["decision"]["reason"] == "new cache layer"
    assert made.json()["decision"]["decided_by"] == "rita"


@pytest.mark.django_db
def test_an_outsider_gets_nothing(make_change, api_client_for, outsider, client):
    chg = make_change(state="approved", env="prod")
    api = api_client_for(outsider)
    assert api.get(f"/api/v1/changes/{chg.number}/strategy/").status_code in (403, 404)
    assert api.post(f"/api/v1/changes/{chg.number}/strategy/", {"strategy": "rolling"},
                    format="json").status_code in (403, 404)
    client.force_login(outsider)
    assert client.post(f"/changes/{chg.number}/strategy/", {"strategy": "rolling"}).status_code in (403, 404)
    assert not StrategyDecision.objects.exists()


@pytest.mark.django_db
def test_the_change_page_shows_the_recommendation_and_takes_the_choice(make_change, client, requester, approver):
    chg = make_change(state="approved", env="prod")
    client.force_login(approver)
    html = client.get(f"/changes/{chg.number}/").content.decode()
    assert 'data-strategy="rolling"' in html and "Record strategy" not in html
    client.force_login(requester)
    assert "Record strategy" in client.get(f"/changes/{chg.number}/").content.decode()
    refused = client.post(f"/changes/{chg.number}/strategy/", {"strategy": "canary"}, follow=True)
    assert "say why canary is chosen" in refused.content.decode() and not StrategyDecision.objects.exists()
    client.post(f"/changes/{chg.number}/strategy/", {"strategy": "canary", "reason": "new cache layer"})
    html = client.get(f"/changes/{chg.number}/").content.decode()
    assert "differs from the recommendation" in html and "new cache layer" in html
