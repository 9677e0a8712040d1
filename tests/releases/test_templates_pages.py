"""The pipeline template registry in the browser: register a template, propose a version governed
by a change, approve it once the change is approved, let a service adopt it — the same service
functions and guards as the API."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.releases import templates_services as templates
from apps.releases.models import PipelineTemplate, PipelineTemplateVersion, TemplateAdoption
from tests.delivery.conftest import approve_fully

pytestmark = pytest.mark.django_db
URL = "/releases/templates/"


@pytest.fixture
def login(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_a_release_manager_registers_proposes_approves_and_a_team_adopts(login, release_manager, requester,
                                                                          make_change, service, environments,
                                                                          django_assert_max_num_queries):
    page = login(release_manager)
    assert "Register a template" in page.get(URL).content.decode()
    assert page.post(URL, {"slug": "std", "name": "Standard", "enforcement": "deny"}).status_code == 302
    template = PipelineTemplate.objects.get(slug="std")
    assert template.enforcement == "deny"
    change = make_change(state="in_review", approved=False)
    page.post(f"{URL}std/versions/", {"version": "1.0", "change": change.number, "required_stages": "build, scan",
                                      "required_evidence_kinds": ["junit", "sarif"], "required_gate_calls": ["prod"]})
    version = PipelineTemplateVersion.objects.get(template=template, version="1.0")
    assert (version.status, version.change, version.required_stages) == ("proposed", change, ["build", "scan"])
    assert version.required_evidence_kinds == ["junit", "sarif"] and version.required_gate_calls == ["prod"]
    refused = page.post(f"{URL}std/versions/1.0/approve/", follow=True).content.decode()
    assert "is not approved" in refused
    version.refresh_from_db()
    assert version.status == "proposed"
    change.state = "approved"
    change.save(update_fields=["state"])
    approve_fully(change)
    page.post(f"{URL}std/versions/1.0/approve/")
    version.refresh_from_db()
    assert version.status == "approved"
    team_page = login(requester)  # rita is in payments, which owns payments-api
    html = team_page.get(URL).content.decode()
    assert "Adopt" in html and "Register a template" not in html and "Propose version" not in html
    assert team_page.post(f"{URL}std/versions/1.0/adopt/", {"service": service.slug}).status_code == 302
    assert TemplateAdoption.objects.get(service=service).version == version
    assert sorted(AuditEvent.objects.filter(action__startswith="releases.template").values_list("action", flat=True)) == [
        "releases.template_adopted", "releases.template_created", "releases.template_version_approved",
        "releases.template_version_proposed"]
    with django_assert_max_num_queries(12):
        assert team_page.get(URL).status_code == 200


def test_bad_input_is_named_and_nothing_is_written(login, release_manager, environments):
    page = login(release_manager)
    assert "is letters, digits" in page.post(URL, {"slug": "no spaces", "name": "X"}, follow=True).content.decode()
    assert not PipelineTemplate.objects.exists()
    templates.template_create(slug="std", name="Standard", actor=release_manager)
    html = page.post(f"{URL}std/versions/", {"version": "1", "required_evidence_kinds": ["vibes"]},
                     follow=True).content.decode()
    assert "Unknown required_evidence_kinds: vibes" in html
    html = page.post(f"{URL}std/versions/", {"version": "1", "change": "CHG-999999"}, follow=True).content.decode()
    assert "No change request CHG-999999" in html
    assert not PipelineTemplateVersion.objects.exists()


def test_a_proposed_version_cannot_be_adopted(login, release_manager, service, make_change):
    template = templates.template_create(slug="std", name="Standard", actor=release_manager)
    templates.template_version_propose(template=template, version="1", change=make_change(state="in_review"),
                                       actor=release_manager)
    html = login(release_manager).post(f"{URL}std/versions/1/adopt/", {"service": service.slug},
                                       follow=True).content.decode()
    assert "services adopt approved versions only" in html
    assert not TemplateAdoption.objects.exists()


def test_others_may_not(login, requester, other_team, release_manager, service, make_change):
    from tests.factories import UserFactory

    template = templates.template_create(slug="std", name="Standard", actor=release_manager)
    version = templates.template_version_propose(template=template, version="1", change=make_change(state="approved"),
                                                 actor=release_manager)
    templates.template_version_approve(version=version, actor=release_manager)
    page = login(requester)
    assert page.post(URL, {"slug": "mine", "name": "Mine"}).status_code == 403
    assert page.post(f"{URL}std/versions/", {"version": "2"}).status_code == 403
    stranger = UserFactory(username="otto", roles=("requester",), team=other_team)
    assert login(stranger).post(f"{URL}std/versions/1/adopt/", {"service": service.slug}).status_code == 403
    assert PipelineTemplate.objects.count() == 1 and PipelineTemplateVersion.objects.count() == 1
    assert not TemplateAdoption.objects.exists()


def test_an_outsider_gets_nothing(login, outsider, release_manager, service):
    templates.template_create(slug="std", name="Standard", actor=release_manager)
    page = login(outsider)
    assert page.get(URL).status_code == 403
    assert page.post(URL, {"slug": "x", "name": "X"}).status_code == 403
    assert page.post(f"{URL}std/versions/", {"version": "1"}).status_code == 403
    assert page.post(f"{URL}std/versions/1/approve/").status_code == 403
    assert page.post(f"{URL}std/versions/1/adopt/", {"service": service.slug}).status_code == 403
    assert PipelineTemplate.objects.count() == 1 and not PipelineTemplateVersion.objects.exists()


def test_a_release_manager_deprecates_an_approved_version_from_the_page(login, release_manager, requester,
                                                                          make_change):
    template = templates.template_create(slug="std", name="Standard", actor=release_manager)
    change = make_change(state="approved")
    version = templates.template_version_approve(version=templates.template_version_propose(
        template=template, version="1.0", change=change, actor=release_manager), actor=release_manager)
    # The team sees no Deprecate button and may not post one.
    team_page = login(requester)
    assert 'aria-label="Deprecate std@1.0"' not in team_page.get(URL).content.decode()
    assert team_page.post(f"{URL}std/versions/1.0/deprecate/").status_code == 403
    version.refresh_from_db()
    assert version.status == "approved"

    page = login(release_manager)
    assert 'aria-label="Deprecate std@1.0"' in page.get(URL).content.decode()
    html = page.post(f"{URL}std/versions/1.0/deprecate/", follow=True).content.decode()
    assert "std@1.0 deprecated: runs that report it are now outdated." in html
    version.refresh_from_db()
    assert version.status == "deprecated" and version.deprecated_at is not None
    assert 'aria-label="Deprecate std@1.0"' not in html  # nothing left to deprecate
    assert AuditEvent.objects.filter(action="releases.template_version_deprecated",
                                     actor_label=release_manager.username).count() == 1
    assert page.post(f"{URL}std/versions/9.9/deprecate/").status_code == 404
