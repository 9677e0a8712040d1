"""Release pages: list and plan, the release page (waves and live progress, scope creep,
exceptions and sign-off), trains, the off-cadence section on the change page and the CAB page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.releases import services
from apps.releases.models import Release, ReleaseChange, ScopeSignoff

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_a_release_manager_plans_a_release_from_the_list(login, release_manager, train):
    page = login(release_manager)
    assert "Plan a release" in page.get("/releases/").content.decode()
    response = page.post("/releases/", {"name": "July", "train": "core", "services": ["web", "ledger"],
                                        "scope_lock_at": "2026-06-20T10:00", "planned_start": "2026-06-22T10:00"})
    release = Release.objects.get(name="July")
    assert response.status_code == 302 and response["Location"] == f"/releases/{release.pk}/"
    assert sorted(s.slug for s in release.services.all()) == ["ledger", "web"]


def test_a_requester_cannot_plan(login, requester, train):
    page = login(requester)
    assert "Plan a release" not in page.get("/releases/").content.decode()
    assert page.post("/releases/", {"name": "X", "train": "core", "services": ["web"],
                                    "scope_lock_at": "2026-06-20T10:00",
                                    "planned_start": "2026-06-22T10:00"}).status_code == 403
    assert Release.objects.count() == 0


def test_the_release_page_shows_waves_progress_and_scope_creep(login, release, release_manager, make_change, clock,
                                                              signers, requester, environments, services_three):
    services.dependencies_set(service=services_three["payments-api"], depends_on=[services_three["ledger"]],
                              actor=release_manager)
    early = make_change(state="approved", env="prod", svc=services_three["ledger"])
    services.release_change_add(release=release, change=early, actor=release_manager)
    from apps.delivery.models import Deployment

    Deployment.objects.create(service=services_three["ledger"], environment=environments["staging"], change=early,
                              status="succeeded")
    clock("2026-06-17 11:00")
    late = make_change(state="approved", env="prod")
    exception = services.scope_exception_request(release=release, change=late, reason="hotfix", actor=release_manager)
    html = login(signers["product"]).get(f"/releases/{release.pk}/").content.decode()
    assert "Wave 1" in html and "Wave 2" in html
    assert html.index('data-service="ledger"') < html.index('data-service="payments-api"')
    assert "ledger deployed to staging" in html
    assert "Sign for product" in html and "Sign for security" not in html
    page = login(signers["product"])
    assert page.post(f"/releases/{release.pk}/exceptions/{exception.pk}/sign/", {"role": "product"}).status_code == 302
    assert ScopeSignoff.objects.filter(exception=exception, role="product").exists()
    for role in ("security", "operations"):
        services.scope_exception_sign(exception=exception, role=role, actor=signers[role])
    page = login(release_manager)
    page.post(f"/releases/{release.pk}/changes/", {"change": late.number})
    assert ReleaseChange.objects.get(change=late).after_lock
    html = page.get(f"/releases/{release.pk}/").content.decode()
    assert "Scope creep: 1 change added after the lock" in html and late.number in html


def test_a_signer_cannot_sign_a_role_they_do_not_hold(login, release, make_change, clock, signers, release_manager):
    clock("2026-06-17 11:00")
    late = make_change(state="approved", env="prod")
    exception = services.scope_exception_request(release=release, change=late, reason="x", actor=release_manager)
    response = login(signers["security"]).post(f"/releases/{release.pk}/exceptions/{exception.pk}/sign/",
                                               {"role": "product"})
    assert response.status_code == 403
    assert not ScopeSignoff.objects.exists()


def test_the_release_page_costs_at_most_15_queries_whatever_its_size(login, release, release_manager, make_change,
                                                                     services_three, team, train, make_artifact,
                                                                     environments,
                                                                     django_assert_max_num_queries):
    from apps.releases.checkpoints import compliance_scope_define
    from tests.factories import ServiceFactory

    compliance_scope_define(key="sox", name="SOX", retention_days=2555, waiver_role="security_officer",
                            checkpoints=[{"name": "Tested", "required_evidence_kinds": ["junit"],
                                          "required_approval_stages": ["Technical review"]}], actor=release_manager)
    page = login(release_manager)
    services.release_change_add(release=release, change=make_change(state="approved", env="prod"),
                                actor=release_manager)
    with django_assert_max_num_queries(15):
        assert page.get(f"/releases/{release.pk}/").status_code == 200
    more = [ServiceFactory(slug=f"svc-{n}", owner_team=team, compliance_scopes=["sox"]) for n in range(8)]
    services.train_services_set(train=train, services=[*services_three.values(), *more], actor=release_manager)
    big = services.release_create(actor=release_manager, name="Big", train=train, services=[*more, services_three["web"]],
                                  planned_start=timezone.now() + timedelta(days=2),
                                  scope_lock_at=timezone.now() + timedelta(days=1))
    for n, svc in enumerate(more[1:]):
        services.dependencies_set(service=svc, depends_on=[more[n]], actor=release_manager)
    from apps.delivery.models import Deployment, Evidence

    for svc in more:
        change = make_change(state="approved", env="prod", svc=svc)
        services.release_change_add(release=big, change=change, actor=release_manager)
        artifact = make_artifact(svc=svc)  # every checkpoint query runs: deployments, evidence
        Evidence.objects.create(artifact=artifact, kind="junit", summary={})
        Deployment.objects.create(service=svc, environment=environments["staging"], artifact=artifact, change=change,
                                  status="succeeded")
    with django_assert_max_num_queries(15):
        html = page.get(f"/releases/{big.pk}/").content.decode()
    assert "Wave 8" in html and "Tested" in html and "evidence junit" in html


def test_trains_pages(login, requester, train):
    page = login(requester)
    assert "Core platform" in page.get("/releases/trains/").content.decode()
    html = page.get("/releases/trains/core/").content.decode()
    assert "Continuous" in html and "payments-api" in html
    assert page.get("/releases/trains/nope/").status_code == 404


@pytest.fixture
def quarterly(release_manager, services_three, clock):
    """payments-api on a quarterly train whose windows open 1 Jan/Apr/Jul/Oct 08:00 for 48 hours."""
    from datetime import UTC, datetime

    clock("2026-06-16 10:00")
    return services.train_create(actor=release_manager, slug="regulated", name="Regulated", cadence="quarterly",
                                 reason="regulatory", signoff_roles=["product", "security", "operations"],
                                 cadence_anchor=datetime(2026, 1, 1, 8, tzinfo=UTC), window_hours=48,
                                 services=[services_three["payments-api"]])


def test_the_change_page_and_the_cab_page_flag_an_off_cadence_change(login, quarterly, make_change, requester,
                                                                     cab_member, release_manager):
    from datetime import UTC, datetime

    from apps.changes.cab import cab_meeting_create
    from apps.changes.models import CabAgendaItem

    change = make_change(state="approved", env="prod", planned_start=datetime(2026, 6, 20, 9, tzinfo=UTC),
                         planned_end=datetime(2026, 6, 20, 10, tzinfo=UTC))
    page = login(requester)
    html = page.get(f"/changes/{change.number}/").content.decode()
    assert "off-cadence" in html
    assert '<time datetime="2026-07-01T08:00:00+00:00">1 Jul 2026, 08:00 UTC</time>' in html
    assert "2026-07-01 08:00" not in html
    page.post(f"/changes/{change.number}/off-cadence/", {"justification": "PCI fix due before the window"})
    assert change.off_cadence_justification.text == "PCI fix due before the window"
    meeting = cab_meeting_create(actor=cab_member, title="CAB", starts_at=datetime(2026, 6, 18, 9, tzinfo=UTC),
                                 quorum=1, members=[cab_member])
    CabAgendaItem.objects.get_or_create(meeting=meeting, change=change, defaults={"position": 99})
    html = login(cab_member).get(f"/changes/cab/{meeting.pk}/").content.decode()
    assert "Off-cadence changes" in html and "PCI fix due before the window" in html


def test_the_progress_fragment_follows_deployments_of_the_releases_own_changes(login, release, release_manager,
                                                                              make_change, services_three,
                                                                              environments):
    from apps.delivery.models import Deployment

    change = make_change(state="approved", env="prod", svc=services_three["web"])
    services.release_change_add(release=release, change=change, actor=release_manager)
    page = login(release_manager)
    # Another build of web in production (not the release's change) does not count.
    Deployment.objects.create(service=services_three["web"], environment=environments["prod"], status="succeeded")
    html = page.get(f"/releases/{release.pk}/progress/").content.decode()
    assert 'id="waves"' in html and "hx-trigger" in html and "shipped" not in html
    Deployment.objects.create(service=services_three["web"], environment=environments["prod"], change=change,
                              status="succeeded")
    assert "web deployed to prod" in page.get(f"/releases/{release.pk}/progress/").content.decode()
