"""Configuration pages: baseline versions and the side-by-side diff, the drift list and a
finding's resolve forms (the same service and guards as the API), the sections on the service
and environment pages, the dashboard panel; fixed query counts and outsiders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.environments.config_services import baseline_propose, observation_record
from apps.environments.models import ConfigBaseline, DriftFinding

from .config_fixtures import *  # noqa: F403  (its fixtures)
from .config_fixtures import setting

pytestmark = pytest.mark.django_db

V1 = {
    "DB_URL": setting("jdbc:postgresql://db:5432/payments", must_match=True),
    "DB_PASSWORD": setting("vault://kv/payments/db#password", secret=True, must_match=True),
    "POOL_SIZE": setting("20"),
    "OLD_FLAG": setting("on"),
}
V2 = {
    "DB_URL": setting("jdbc:postgresql://db:5432/payments", must_match=True),
    "DB_PASSWORD": setting("vault://kv/payments/db-rotated#password", secret=True, must_match=True),
    "POOL_SIZE": setting("50"),
    "NEW_FLAG": setting("true", must_match=True),
}
AS_V2 = {"DB_URL": "jdbc:postgresql://db:5432/payments", "DB_PASSWORD": "vault://kv/payments/db-rotated#password",
         "POOL_SIZE": "50", "NEW_FLAG": "true"}


@pytest.fixture
def versions(config_change, approve, requester, service, environments, clock):
    """payments-api in staging: v1 and v2 approved (v2 in force), each with its own change."""
    clock("2026-11-10 09:00")
    made = []
    for title, settings in (("First baseline", V1), ("Raise the pool", V2)):
        change = config_change(title=title)
        baseline_propose(service=service, environment=environments["staging"], change=change, settings=settings,
                         actor=requester)
        made.append(approve(change))
    return made


@pytest.fixture
def drifted(versions, service, environments, service_account):
    """What runs in staging: POOL_SIZE 80 instead of 50 (java 17.0.9; prod runs java 21)."""
    now = timezone.now()
    observation_record(service=service, environment=environments["staging"], source="agent", observed_at=now,
                       settings={**AS_V2, "POOL_SIZE": "80"}, runtimes={"java": "17.0.9"}, actor=service_account)
    return DriftFinding.objects.get(key="POOL_SIZE")


def member(client, user):
    client.force_login(user)
    return client


# --- baselines ------------------------------------------------------------------------------------

def test_the_baseline_page_lists_versions_with_who_proposed_and_approved(client, requester, versions):
    html = member(client, requester).get("/config/baselines/payments-api/staging/").content.decode()
    for change in versions:
        assert change.number in html
    assert "approved v2" in html and "superseded" in html
    assert "Rita" in html  # proposed by
    assert "adam" in html  # approved by (the approvers of the change)


def test_the_diff_shows_added_removed_changed_keys_and_masks_secret_values(client, requester, versions):
    html = member(client, requester).get("/config/baselines/payments-api/staging/").content.decode()
    # Default: the approved version beside the one before it.
    assert "Version 1 and version 2 side by side" in html
    changes = dict(re.findall(r'data-key="([A-Z_]+)" data-change="(\w+)"', html))
    assert changes == {"DB_URL": "same", "DB_PASSWORD": "changed", "POOL_SIZE": "changed", "OLD_FLAG": "removed",
                       "NEW_FLAG": "added"}
    assert "1 added" in html and "1 removed" in html and "2 changed" in html
    # Secret values: the scheme only, never the reference's path.
    assert "vault://••••••" in html
    assert "kv/payments/db" not in html
    assert "must match" in html and ">secret<" in html


def test_versions_are_chosen_by_the_query_string(client, requester, versions):
    html = member(client, requester).get("/config/baselines/payments-api/staging/?old=2&new=1").content.decode()
    assert "Version 2 and version 1 side by side" in html
    assert dict(re.findall(r'data-key="([A-Z_]+)" data-change="(\w+)"', html))["OLD_FLAG"] == "added"
    html = client.get("/config/baselines/payments-api/staging/?new=9&old=x").content.decode()
    assert "There is no version 9" in html and "Version 1 and version 2 side by side" in html


def test_the_baseline_index_lists_each_service_with_its_versions(client, requester, versions):
    html = member(client, requester).get("/config/baselines/").content.decode()
    assert "payments-api" in html and "v2" in html


def test_the_baseline_page_gives_when_each_version_was_proposed_in_words(client, requester, versions):
    html = member(client, requester).get("/config/baselines/payments-api/staging/").content.decode()
    assert '<time datetime="2026-11-10T09:00' in html and "10 Nov 2026, 09:00 UTC</time>" in html
    assert "2026-11-10 09:00" not in html


def test_the_drift_pages_give_first_and_last_seen_in_words(client, requester, drifted):
    DriftFinding.objects.filter(pk=drifted.pk).update(first_seen=datetime(2026, 11, 10, 9, 5, tzinfo=UTC),
                                                      last_seen=datetime(2026, 11, 12, 17, 24, tzinfo=UTC))
    member(client, requester)
    detail = client.get(f"/config/drift/{drifted.pk}/").content.decode()
    assert '<dt>First seen</dt><dd><time datetime="2026-11-10T09:05:00+00:00">10 Nov 2026, 09:05 UTC</time></dd>' in detail
    assert '<dt>Last seen</dt><dd><time datetime="2026-11-12T17:24:00+00:00">12 Nov 2026, 17:24 UTC</time></dd>' in detail
    listing = client.get("/config/drift/").content.decode()
    assert '<time datetime="2026-11-12T17:24:00+00:00">12 Nov 2026, 17:24 UTC</time>' in listing
    assert 'since <time datetime="2026-11-10T09:05:00+00:00">10 Nov 2026, 09:05 UTC</time>' in listing
    for body in (detail, listing):
        assert "2026-11-10 09:05" not in body and "2026-11-12 17:24" not in body


# --- drift list and resolving ---------------------------------------------------------------------

def test_the_drift_list_filters_by_service_environment_and_status(client, requester, drifted, other_team):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="ledger", owner_team=other_team)
    DriftFinding.objects.create(service=other, environment=drifted.environment, key="LEDGER_KEY", kind="missing",
                                expected="1", first_seen=timezone.now(), last_seen=timezone.now(),
                                status="resolved", resolution="reverted")
    member(client, requester)
    html = client.get("/config/drift/").content.decode()
    assert drifted.reference in html and "LEDGER_KEY" not in html  # open by default
    assert "LEDGER_KEY" in client.get("/config/drift/?status=resolved").content.decode()
    html = client.get("/config/drift/?status=&service=ledger").content.decode()
    assert "LEDGER_KEY" in html and drifted.reference not in html
    assert drifted.reference not in client.get("/config/drift/?environment=prod").content.decode()


def test_a_team_member_accepts_drift_with_the_approved_change_that_holds_it(client, implementer, drifted,
                                                                             config_change, approve, requester):
    change = config_change(title="Pool 80 for the peak")
    baseline_propose(service=drifted.service, environment=drifted.environment, change=change,
                     settings={**V2, "POOL_SIZE": setting("80")}, actor=requester)
    change = approve(change)
    member(client, implementer)
    page = client.get(f"/config/drift/{drifted.pk}/").content.decode()
    assert f"{change.number} — baseline v3 (approved) · holds the observed value" in page
    response = client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "accepted", "change": change.number},
                           follow=True)
    drifted.refresh_from_db()
    assert (drifted.status, drifted.resolution, drifted.resolving_change) == ("resolved", "accepted", change)
    assert drifted.resolved_by == implementer
    assert f"{drifted.reference} (POOL_SIZE) accepted with {change.number}" in response.content.decode()


def test_a_refusal_of_the_service_comes_back_as_a_message_and_changes_nothing(client, implementer, drifted,
                                                                            versions):
    member(client, implementer)
    # v2's change does not put the observed 80 in the baseline.
    response = client.post(f"/config/drift/{drifted.pk}/resolve/",
                           {"resolution": "accepted", "change": versions[1].number}, follow=True)
    assert "does not hold the observed POOL_SIZE" in response.content.decode()
    response = client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "reverted"}, follow=True)
    assert "No observation after" in response.content.decode()
    response = client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "accepted", "change": "CHG-999999"},
                           follow=True)
    assert "No change CHG-999999" in response.content.decode()
    drifted.refresh_from_db()
    assert drifted.status == "open" and drifted.history.count() == 1


def test_someone_outside_the_owner_team_is_refused_by_the_service(client, cab_member, drifted):
    member(client, cab_member)
    assert "Resolve…" in client.get("/config/drift/").content.decode()  # the list shows the way…
    assert "Accept the drift" not in client.get(f"/config/drift/{drifted.pk}/").content.decode()
    response = client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "reverted"}, follow=True)
    assert "team and release managers resolve its drift" in response.content.decode()
    drifted.refresh_from_db()
    assert drifted.status == "open"


def test_reverted_after_a_later_observation_from_the_browser(client, implementer, drifted, service_account):
    observation_record(service=drifted.service, environment=drifted.environment, source="agent",
                       observed_at=timezone.now() + timedelta(minutes=1), settings=AS_V2, actor=service_account)
    member(client, implementer)
    client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "reverted",
                                                         "next": "/config/drift/?status=resolved"})
    drifted.refresh_from_db()
    assert (drifted.status, drifted.resolution) == ("resolved", "reverted")


def test_an_offsite_next_is_ignored(client, implementer, drifted):
    member(client, implementer)
    response = client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "reverted",
                                                                    "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/config/drift/{drifted.pk}/"


# --- sections and panels --------------------------------------------------------------------------

def test_the_service_page_shows_baselines_runtimes_mismatch_and_open_drift(client, requester, drifted,
                                                                           service_account, environments):
    observation_record(service=drifted.service, environment=environments["prod"], source="agent",
                       observed_at=timezone.now(), settings={}, runtimes={"java": "21.0.2"}, actor=service_account)
    html = member(client, requester).get("/services/payments-api/").content.decode()
    assert ">Configuration<" in html and drifted.reference in html
    assert 'data-testid="runtime-mismatch"' in html and "≠ Staging 17.0.9" in html


def test_the_environment_section_lists_open_drift_there(rf, requester, drifted, environments):
    from apps.environments.environment_sections import sections
    from releaseportal.extensions import collect_sections

    request = rf.get("/")
    request.user = requester
    [section] = sections(request, environments["staging"])
    assert section["data"]["counts"]["open"] == 1
    assert [row["finding"] for row in section["data"]["findings"]] == [drifted]
    assert sections(request, environments["prod"])[0]["data"]["counts"]["open"] == 0
    assert any(s["title"] == "Configuration drift" for s in collect_sections("environment_sections", request,
                                                                             environments["staging"]))


def test_the_dashboard_shows_open_drift(client, release_manager, drifted):
    """Open drift is on the release manager's home page (the home page is per role)."""
    html = member(client, release_manager).get("/").content.decode()
    assert "Configuration drift" in html and drifted.reference in html


# --- outsiders ------------------------------------------------------------------------------------

def test_an_outsider_gets_nothing(client, outsider, drifted, rf):
    from apps.environments import dashboard, environment_sections, service_sections

    member(client, outsider)
    for url in ("/config/baselines/", "/config/baselines/payments-api/staging/", "/config/drift/",
                f"/config/drift/{drifted.pk}/"):
        assert client.get(url).status_code in (403, 404), url
    assert client.post(f"/config/drift/{drifted.pk}/resolve/", {"resolution": "reverted"}).status_code in (403, 404)
    drifted.refresh_from_db()
    assert drifted.status == "open"
    request = rf.get("/")
    request.user = outsider
    assert dashboard.panels(request) == []
    assert service_sections.sections(request, drifted.service) == []
    assert environment_sections.sections(request, drifted.environment) == []


def test_anonymous_visitors_are_sent_to_sign_in(client, drifted):
    response = client.get("/config/drift/")
    assert response.status_code == 302 and "login" in response["Location"]


# --- fixed query counts ---------------------------------------------------------------------------

def _grow(size: int, *, prefix: str, environments, team, change) -> None:
    """`size` services with a two-version baseline in every environment and an open finding in each
    pair (half must_match), plus a resolved one."""
    from apps.catalog.models import Service
    from apps.environments.models import ConfigState

    services = Service.objects.bulk_create([Service(slug=f"{prefix}-{i}", name=f"Svc {prefix} {i}", owner_team=team)
                                            for i in range(size)])
    now = timezone.now()
    baselines, findings, states = [], [], []
    for service in services:
        for env in environments.values():
            for version, status in ((1, "superseded"), (2, "approved")):
                baselines.append(ConfigBaseline(service=service, environment=env, version=version, status=status,
                                                change=change, settings={f"K{k}": {"value": str(k), "secret": False,
                                                                                    "must_match": k % 2 == 0}
                                                                         for k in range(20)},
                                                approved_at=now, approvers=["adam"]))
            findings.append(DriftFinding(service=service, environment=env, key="K1", kind="changed", expected="1",
                                         observed="9", must_match=service.pk % 2 == 0, first_seen=now, last_seen=now))
            findings.append(DriftFinding(service=service, environment=env, key="K2", kind="changed", expected="2",
                                         observed="8", first_seen=now, last_seen=now, status="resolved",
                                         resolution="reverted", resolved_at=now))
            states.append(ConfigState(service=service, environment=env, last_observed_at=now,
                                      runtimes={"java": "17.0.9" if env.slug != "prod" else "21.0.1"}))
    ConfigBaseline.objects.bulk_create(baselines)
    DriftFinding.objects.bulk_create(findings)
    ConfigState.objects.bulk_create(states)


def _queries(client, url) -> int:
    client.get(url)  # warm per-process caches (navigation, content types)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


PAGES = ["/config/drift/", "/config/drift/?status=&environment=staging", "/config/baselines/",
         "/config/baselines/a-0/staging/", "/services/a-0/", "/"]


def test_pages_cost_the_same_queries_at_two_data_sizes(client, requester, environments, team, config_change):
    change = config_change(title="Bulk")
    _grow(3, prefix="a", environments=environments, team=team, change=change)
    member(client, requester)
    small = {url: _queries(client, url) for url in PAGES}
    first = DriftFinding.objects.filter(status="open").order_by("pk").first()
    small_detail = _queries(client, f"/config/drift/{first.pk}/")
    _grow(60, prefix="b", environments=environments, team=team, change=change)
    large = {url: _queries(client, url) for url in PAGES}
    assert large == small
    assert _queries(client, f"/config/drift/{first.pk}/") == small_detail
    # The organisation's drift list (API.md: ≤ 15 queries with sign-in and navigation).
    assert large["/config/drift/"] <= 15, large
    assert small_detail <= 15


def test_the_sections_and_panel_cost_a_fixed_number_of_queries(rf, requester, environments, team, config_change,
                                                               django_assert_max_num_queries):
    from apps.catalog.models import Service
    from apps.environments import dashboard, environment_sections, service_sections

    change = config_change(title="Bulk")
    request = rf.get("/")
    request.user = requester
    requester.role_names()
    requester.memberships.exists()
    counts = []
    for size in (3, 40):
        _grow(size, prefix=f"s{size}", environments=environments, team=team, change=change)
        service = Service.objects.get(slug="s3-0")
        with CaptureQueriesContext(connection) as captured:
            service_sections.sections(request, service)
            environment_sections.sections(request, environments["staging"])
            dashboard.panels(request)
        counts.append(len(captured))
    # The dashboard also carries the unauthorised provisioning panel (2 queries) beside drift.
    assert counts[0] == counts[1] and counts[1] <= 14, counts
