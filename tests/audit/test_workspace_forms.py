"""The auditor workspace (issue #16): the pack request form shows only the chosen scope's
fields (htmx swap, or a plain reload without JavaScript), offers every registered control pack
and the services by name, accepts a service's name or slug; archive files download for
auditors only, audited and hash-checked."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest
from django.core.files.storage import storages

from apps.audit.models import Archive, AuditEvent, EvidencePack
from apps.audit.packs.scope import CONTROL_PACKS

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2029, 3, 15, tzinfo=dt.UTC)


def _form(html: str) -> str:
    return html.split('id="pack-request"')[1].split("Request pack</button>")[0]


def test_the_form_shows_only_the_fields_of_the_chosen_scope(client, auditor, service):
    client.force_login(auditor)
    default = _form(client.get("/audit/").content.decode())
    assert 'name="control"' in default and 'name="period_start"' in default
    assert 'name="change"' not in default and 'name="service"' not in default and 'name="version"' not in default
    change = _form(client.get("/audit/", {"scope": "change"}).content.decode())
    assert 'name="change"' in change
    assert all(f'name="{n}"' not in change for n in ("control", "service", "version", "period_start"))
    assert '<input type="hidden" name="scope" value="change">' in change
    # The htmx swap answers the same form alone.
    fragment = client.get("/audit/packs/form/", {"scope": "release"}).content.decode()
    assert "<html" not in fragment and 'name="service"' in fragment and 'name="version"' in fragment
    assert 'name="control"' not in fragment and 'name="period_end"' not in fragment


def test_an_unknown_scope_falls_back_to_the_default_form(client, auditor):
    client.force_login(auditor)
    response = client.get("/audit/packs/form/", {"scope": "nonsense"})
    assert response.status_code == 200 and 'value="control_period" selected' in response.content.decode()


def test_every_registered_control_pack_and_every_service_is_offered_by_name(client, auditor, service):
    client.force_login(auditor)
    html = client.get("/audit/packs/form/", {"scope": "control_period"}).content.decode()
    assert len(CONTROL_PACKS) >= 3
    for key, pack in CONTROL_PACKS.items():
        assert f'<option value="{key}"' in html and pack.title in html
    service_form = client.get("/audit/packs/form/", {"scope": "service_period"}).content.decode()
    assert f'<option value="{service.slug}">{service.name}</option>' in service_form


def test_a_service_may_be_named_by_its_name_or_its_slug(client, auditor, service):
    client.force_login(auditor)
    for given in ("Payments API", "payments api", "payments-api"):
        response = client.post("/audit/packs/", {"scope": "service_period", "service": given,
                                                 "period_start": "2026-07-01", "period_end": "2026-07-31"})
        assert response.status_code == 302, response.content.decode()[:500]
    assert {p.parameters["service"] for p in EvidencePack.objects.all()} == {"payments-api"}


def test_an_unknown_service_is_refused_naming_the_field_and_nothing_is_written(client, auditor, service):
    client.force_login(auditor)
    response = client.post("/audit/packs/", {"scope": "service_period", "service": "Nope",
                                             "period_start": "2026-07-01", "period_end": "2026-07-31"})
    assert response.status_code == 400
    assert "No service named &#x27;Nope&#x27;" in response.content.decode()
    assert not EvidencePack.objects.exists()


def test_the_api_accepts_a_service_name_too(api_client_for, auditor, service):
    response = api_client_for(auditor).post("/api/v1/evidence-packs/", {
        "scope": "service_period", "service": "Payments API", "period_start": "2026-07-01",
        "period_end": "2026-07-31"}, format="json")
    assert response.status_code == 202, response.content
    assert EvidencePack.objects.get().parameters["service"] == "payments-api"


@pytest.mark.parametrize("path", ["/audit/packs/form/"])
def test_outsiders_get_nothing_from_the_form_fragment(client, outsider, path):
    assert client.get(path).status_code == 302
    client.force_login(outsider)
    assert client.get(path).status_code in (403, 404)


def test_the_form_fragment_costs_a_fixed_number_of_queries(client, auditor, service, django_assert_max_num_queries):
    from tests.factories import ServiceFactory

    client.force_login(auditor)
    client.get("/audit/packs/form/", {"scope": "service_period"})
    for n in range(10):
        ServiceFactory(slug=f"svc-{n}", name=f"Service {n}", owner_team=service.owner_team)
    with django_assert_max_num_queries(6):
        response = client.get("/audit/packs/form/", {"scope": "service_period"})
    assert response.content.decode().count("<option value=\"svc-") == 10


# --- archive files ----------------------------------------------------------------------------

@pytest.fixture
def archive(make_change):
    from apps.audit.actor import Actor
    from apps.audit.archives import archive_closed_records

    for day in (10, 20):
        make_change(title=f"Old {day}", state="closed", closed_at=dt.datetime(2026, 1, day, 12, tzinfo=dt.UTC))
    archive_closed_records(actor=Actor.for_task("test"), now=NOW)
    return Archive.objects.get(record_class="change_request")


def test_an_auditor_downloads_an_archive_file_streamed_and_audited(client, auditor, archive,
                                                                   django_assert_max_num_queries):
    client.force_login(auditor)
    assert f'href="/audit/archives/{archive.pk}/download/"' in client.get("/audit/").content.decode()
    with django_assert_max_num_queries(12):
        response = client.get(f"/audit/archives/{archive.pk}/download/")
        body = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    assert "2026-01.jsonl.gz" in response["Content-Disposition"]
    assert len(gzip.decompress(body).splitlines()) == 2
    event = AuditEvent.objects.get(action="archive.downloaded")
    assert event.object_id == str(archive.pk) and event.actor_id == auditor.pk
    assert event.details["sha256"] == archive.sha256


def test_an_altered_archive_is_refused_and_not_served(client, auditor, archive):
    path = Path(storages["archive"].path(archive.path))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    client.force_login(auditor)
    response = client.get(f"/audit/archives/{archive.pk}/download/", follow=True)
    assert "does not match its SHA-256" in response.content.decode()
    assert not AuditEvent.objects.filter(action="archive.downloaded").exists()


def test_outsiders_and_other_roles_cannot_download_archives(client, outsider, requester, archive):
    assert client.get(f"/audit/archives/{archive.pk}/download/").status_code == 302
    for user in (outsider, requester):
        client.force_login(user)
        assert client.get(f"/audit/archives/{archive.pk}/download/").status_code in (403, 404)
    assert not AuditEvent.objects.filter(action="archive.downloaded").exists()
