"""Trains, releases, scope lock and exceptions, dependencies over the API (API.md "Releases")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases.models import Release, ReleaseChange, ScopeException, ServiceDependency

pytestmark = pytest.mark.django_db


def error_code(response):
    return response.json()["error"]["code"]


@pytest.fixture
def rm_api(api_client_for, release_manager):
    return api_client_for(release_manager)


# --- trains -------------------------------------------------------------------------------------

def test_trains_list_names_cadence_and_services(train, api_client_for, requester):
    response = api_client_for(requester).get("/api/v1/release-trains/")
    assert response.status_code == 200
    (row,) = response.json()
    assert row["slug"] == "core" and row["cadence"] == "continuous"
    assert row["services"] == ["ledger", "payments-api", "web"]
    assert row["signoff_roles"] == ["product", "security", "operations"]


def test_an_outsider_gets_nothing(train, release, api_client_for, outsider, client):
    api = api_client_for(outsider)
    assert api.get("/api/v1/release-trains/").status_code == 403
    assert api.get(f"/api/v1/releases/{release.pk}/").status_code == 403
    assert api.put("/api/v1/services/web/dependencies/", {"depends_on": []}, format="json").status_code == 403
    client.force_login(outsider)
    assert client.get("/releases/").status_code == 403
    assert client.get(f"/releases/{release.pk}/").status_code == 403
    assert client.get("/releases/trains/").status_code == 403
    assert client.get("/releases/trains/core/").status_code == 403
    assert client.get(f"/releases/{release.pk}/progress/").status_code == 403
    assert api.get("/api/v1/compliance-scopes/").status_code == 403


def test_a_custom_cadence_is_a_parsed_rrule(rm_api, services_three):
    bad = rm_api.post("/api/v1/release-trains/", {"slug": "x", "name": "X", "cadence": "custom", "rrule": "FREQ=FOO",
                                                  "reason": "regulatory", "signoff_roles": ["product"]}, format="json")
    assert bad.status_code == 400 and error_code(bad) == "invalid_rrule"
    too_often = rm_api.post("/api/v1/release-trains/", {
        "slug": "x", "name": "X", "cadence": "custom", "rrule": "FREQ=MINUTELY", "reason": "regulatory",
        "signoff_roles": ["product"]}, format="json")
    assert too_often.status_code == 400 and error_code(too_often) == "invalid_rrule"
    good = rm_api.post("/api/v1/release-trains/", {
        "slug": "tue", "name": "Tuesdays", "cadence": "custom", "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "reason": "business_cycle", "signoff_roles": ["product", "security"], "services": ["web"],
        "cadence_anchor": "2026-06-02T08:00:00Z", "window_hours": 4}, format="json")
    assert good.status_code == 201, good.json()
    assert good.json()["services"] == ["web"] and good.json()["rrule"] == "FREQ=WEEKLY;BYDAY=TU"
    assert AuditEvent.objects.filter(action="release_train.created").count() == 1


def test_only_release_managers_create_trains(api_client_for, requester, services_three):
    response = api_client_for(requester).post("/api/v1/release-trains/", {
        "slug": "x", "name": "X", "cadence": "weekly", "reason": "stability", "signoff_roles": ["product"]},
        format="json")
    assert response.status_code == 403


def test_a_train_names_at_least_one_known_signoff(rm_api, services_three):
    for roles in ([], ["legal"]):
        response = rm_api.post("/api/v1/release-trains/", {
            "slug": "x", "name": "X", "cadence": "weekly", "reason": "stability", "signoff_roles": roles},
            format="json")
        assert response.status_code == 400, roles


# --- releases and scope -------------------------------------------------------------------------

def test_a_release_is_planned_with_its_services(rm_api, train):
    now = timezone.now()
    response = rm_api.post("/api/v1/releases/", {
        "name": "R1", "train": "core", "planned_start": (now + timedelta(days=3)).isoformat(),
        "scope_lock_at": (now + timedelta(days=1)).isoformat(), "services": ["web", "ledger"]}, format="json",
        HTTP_IDEMPOTENCY_KEY="r1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "planning" and body["services"] == ["ledger", "web"]
    assert body["plan"] == {"waves": [["ledger", "web"]]} and body["changes"] == [] and not body["scope_locked"]
    again = rm_api.post("/api/v1/releases/", {
        "name": "R1", "train": "core", "planned_start": (now + timedelta(days=3)).isoformat(),
        "scope_lock_at": (now + timedelta(days=1)).isoformat(), "services": ["web", "ledger"]}, format="json",
        HTTP_IDEMPOTENCY_KEY="r1")
    assert again.json()["id"] == body["id"] and Release.objects.count() == 1


def test_a_release_refuses_services_off_its_train_and_a_lock_after_start(rm_api, train):
    from tests.factories import ServiceFactory

    ServiceFactory(slug="stranger")
    now = timezone.now()
    base = {"name": "R", "train": "core", "planned_start": (now + timedelta(days=3)).isoformat(),
            "scope_lock_at": (now + timedelta(days=1)).isoformat()}
    response = rm_api.post("/api/v1/releases/", {**base, "services": ["web", "stranger"]}, format="json")
    assert response.status_code == 400 and error_code(response) == "service_not_on_train"
    response = rm_api.post("/api/v1/releases/", {**base, "services": ["web"],
                                                 "scope_lock_at": (now + timedelta(days=4)).isoformat()}, format="json")
    assert response.status_code == 400
    assert Release.objects.count() == 0


def test_a_change_joins_an_open_scope_and_a_locked_scope_answers_409(rm_api, release, make_change, clock):
    early = make_change(state="approved", env="prod")
    response = rm_api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": early.pk}, format="json")
    assert response.status_code == 201, response.json()
    assert [c["number"] for c in response.json()["changes"]] == [early.number]
    assert response.json()["scope_creep"] == []
    clock("2026-06-17 11:00")  # past scope_lock_at
    late = make_change(state="approved", env="prod")
    response = rm_api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": late.number}, format="json")
    assert response.status_code == 409 and error_code(response) == "scope_locked"
    assert "product, security, operations" in response.json()["error"]["message"]
    assert not ReleaseChange.objects.filter(change=late).exists()


def test_a_late_change_needs_every_signoff_from_distinct_people(rm_api, release, make_change, clock, signers,
                                                                api_client_for, requester):
    clock("2026-06-17 11:00")
    late = make_change(state="approved", env="prod")
    asked = api_client_for(requester).post(f"/api/v1/releases/{release.pk}/scope-exceptions/", {
        "change": late.pk, "reason": "Fixes the checkout regression"}, format="json")
    assert asked.status_code == 201, asked.json()
    exception_id = asked.json()["id"]
    url = f"/api/v1/releases/{release.pk}/scope-exceptions/{exception_id}/signoffs/"
    # Not a holder of the role; a role the train does not name.
    assert api_client_for(signers["security"]).post(url, {"role": "product"}, format="json").status_code == 403
    signed = api_client_for(signers["product"]).post(url, {"role": "product"}, format="json")
    assert signed.status_code == 201 and signed.json()["state"] == "open"
    # One person cannot sign two roles, even holding both.
    pat = signers["product"]
    from django.contrib.auth.models import Group

    pat.groups.add(Group.objects.get(name="security_officer"))
    twice = api_client_for(pat).post(url, {"role": "security"}, format="json")
    assert twice.status_code == 403 and error_code(twice) == "segregation_of_duties"
    # Still two sign-offs missing: still locked.
    response = rm_api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": late.pk}, format="json")
    assert response.status_code == 409 and "security, operations" in response.json()["error"]["message"]
    assert api_client_for(signers["security"]).post(url, {"role": "security"}, format="json").status_code == 201
    last = api_client_for(signers["operations"]).post(url, {"role": "operations", "comment": "ok"}, format="json")
    assert last.json()["state"] == "approved"
    response = rm_api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": late.pk}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["scope_creep"] == [late.number]
    assert body["changes"][0]["after_lock"] is True and body["changes"][0]["scope_exception"] == exception_id
    assert ScopeException.objects.get(pk=exception_id).state == "used"
    assert AuditEvent.objects.filter(action="release.scope_exception_signed").count() == 3
    added = AuditEvent.objects.filter(action="release.change_added")
    assert [e.details["after_lock"] for e in added] == [True]


def test_the_requester_of_an_exception_cannot_sign_it(release, make_change, clock, signers, api_client_for):
    clock("2026-06-17 11:00")
    late = make_change(state="approved", env="prod")
    from django.contrib.auth.models import Group

    pat = signers["product"]  # a product owner who also files changes asks for the exception
    pat.groups.add(Group.objects.get(name="requester"))
    asked = api_client_for(pat).post(f"/api/v1/releases/{release.pk}/scope-exceptions/", {
        "change": late.pk, "reason": "I want it"}, format="json")
    url = f"/api/v1/releases/{release.pk}/scope-exceptions/{asked.json()['id']}/signoffs/"
    response = api_client_for(pat).post(url, {"role": "product"}, format="json")
    assert response.status_code == 403 and error_code(response) == "segregation_of_duties"


def test_a_change_of_a_service_outside_the_release_is_refused(rm_api, train, release_manager, make_change,
                                                              services_three):
    from apps.releases import services

    now = timezone.now()
    small = services.release_create(actor=release_manager, name="Web only", train=train,
                                    planned_start=now + timedelta(days=2), scope_lock_at=now + timedelta(days=1),
                                    services=[services_three["web"]])
    change = make_change(state="approved", env="prod")  # payments-api
    response = rm_api.post(f"/api/v1/releases/{small.pk}/changes/", {"change": change.pk}, format="json")
    assert response.status_code == 400 and error_code(response) == "service_not_in_release"


def test_state_moves_go_through_one_audited_service(rm_api, release):
    url = f"/api/v1/releases/{release.pk}/transition/"
    assert error_code(rm_api.post(url, {"to_state": "released"}, format="json")) == "invalid_transition"
    for state in ("scope_locked", "in_progress", "released"):
        response = rm_api.post(url, {"to_state": state}, format="json")
        assert response.status_code == 200 and response.json()["state"] == state
    release.refresh_from_db()
    assert release.released_at is not None
    assert [h.state for h in release.history.order_by("history_date")][-3:] == ["scope_locked", "in_progress",
                                                                               "released"]
    assert set(AuditEvent.objects.filter(action__startswith="release.").values_list("action", flat=True)) >= {
        "release.scope_locked", "release.in_progress", "release.released"}


def test_locking_early_locks_the_scope_at_once(rm_api, release, make_change):
    rm_api.post(f"/api/v1/releases/{release.pk}/transition/", {"to_state": "scope_locked"}, format="json")
    change = make_change(state="approved", env="prod")
    response = rm_api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": change.pk}, format="json")
    assert response.status_code == 409 and error_code(response) == "scope_locked"


def test_a_requester_cannot_plan_or_move_a_release(api_client_for, requester, release, make_change):
    api = api_client_for(requester)
    change = make_change(state="approved", env="prod")
    assert api.post(f"/api/v1/releases/{release.pk}/changes/", {"change": change.pk}, format="json").status_code == 403
    assert api.post(f"/api/v1/releases/{release.pk}/transition/", {"to_state": "cancelled"},
                    format="json").status_code == 403
    release.refresh_from_db()
    assert release.state == "planning"


# --- dependencies -------------------------------------------------------------------------------

def test_dependencies_order_the_plan_and_a_cycle_is_named(rm_api, release):
    assert rm_api.put("/api/v1/services/payments-api/dependencies/", {"depends_on": ["ledger"]},
                      format="json").status_code == 200
    assert rm_api.put("/api/v1/services/ledger/dependencies/", {"depends_on": ["web"]},
                      format="json").status_code == 200
    body = rm_api.get(f"/api/v1/releases/{release.pk}/").json()
    assert body["plan"] == {"waves": [["web"], ["ledger"], ["payments-api"]]}
    response = rm_api.put("/api/v1/services/web/dependencies/", {"depends_on": ["payments-api"]}, format="json")
    assert response.status_code == 400 and error_code(response) == "dependency_cycle"
    assert "web → payments-api → ledger → web" in response.json()["error"]["message"]
    assert not ServiceDependency.objects.filter(service__slug="web").exists()
    assert rm_api.get("/api/v1/services/ledger/dependencies/").json() == {"depends_on": ["web"]}


def test_a_dependency_through_a_service_outside_the_release_still_orders_it(rm_api, train, release_manager,
                                                                           services_three):
    from apps.releases import services

    now = timezone.now()
    two = services.release_create(actor=release_manager, name="Two", train=train,
                                  planned_start=now + timedelta(days=2), scope_lock_at=now + timedelta(days=1),
                                  services=[services_three["web"], services_three["payments-api"]])
    rm_api.put("/api/v1/services/web/dependencies/", {"depends_on": ["ledger"]}, format="json")
    rm_api.put("/api/v1/services/ledger/dependencies/", {"depends_on": ["payments-api"]}, format="json")
    assert rm_api.get(f"/api/v1/releases/{two.pk}/").json()["plan"]["waves"] == [["payments-api"], ["web"]]


def test_a_service_team_member_declares_dependencies_others_may_not(api_client_for, requester, other_team,
                                                                    services_three, roles_ready):
    from tests.factories import UserFactory

    assert api_client_for(requester).put("/api/v1/services/web/dependencies/", {"depends_on": ["ledger"]},
                                         format="json").status_code == 200
    stranger = UserFactory(username="otto", roles=("requester",), team=other_team)
    assert api_client_for(stranger).put("/api/v1/services/web/dependencies/", {"depends_on": []},
                                        format="json").status_code == 403
    assert ServiceDependency.objects.filter(service__slug="web").count() == 1
    assert AuditEvent.objects.filter(action="service.dependencies_set").count() == 1


def test_release_detail_costs_a_fixed_number_of_queries(rm_api, release, make_change, release_manager,
                                                        django_assert_max_num_queries):
    from apps.releases import services

    def grow(n):
        for _ in range(n):
            services.release_change_add(release=release, change=make_change(state="approved", env="prod"),
                                        actor=release_manager)

    grow(1)
    with django_assert_max_num_queries(14):
        assert rm_api.get(f"/api/v1/releases/{release.pk}/").status_code == 200
    grow(6)
    with django_assert_max_num_queries(14):
        assert len(rm_api.get(f"/api/v1/releases/{release.pk}/").json()["changes"]) == 7


def test_releases_are_listed_paginated_and_filtered(rm_api, release, train, release_manager, services_three):
    from apps.releases import services

    other = services.release_create(actor=release_manager, name="Later", train=train,
                                    planned_start=timezone.now() + timedelta(days=9),
                                    scope_lock_at=timezone.now() + timedelta(days=8), services=[services_three["web"]])
    services.release_transition(release=other, to_state="cancelled", actor=release_manager)
    body = rm_api.get("/api/v1/releases/?page_size=1").json()
    assert body["count"] == 2 and [r["name"] for r in body["results"]] == ["Later"]
    assert [r["name"] for r in rm_api.get("/api/v1/releases/?state=planning").json()["results"]] == ["June release"]
    assert rm_api.get("/api/v1/releases/?train=core").json()["count"] == 2
    assert rm_api.get("/api/v1/releases/?state=nope").status_code == 400
