"""Only auditors request, see and download packs; every download is audited; anonymous users,
outsiders and other roles get nothing from any view or endpoint."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from apps.audit.models import AuditEvent, EvidencePack

from .conftest import CONTROL_JULY
from .packs import generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_pack(auditor):
    """A stored, ready pack (its contents do not matter to access rules; generating one per
    persona would only slow the suite)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages
    from django.utils import timezone

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("manifest.json", "{}")
    path = storages["archive"].save("evidence-packs/test.zip", ContentFile(buffer.getvalue()))
    return EvidencePack.objects.create(scope="control_period", parameters={"scope": "control_period", **CONTROL_JULY},
                                       title="July", status="ready", progress=100, path=path, sha256="f" * 64,
                                       requested_by=auditor, requested_at=timezone.now())


def test_an_auditor_requests_a_pack_through_the_api_and_follows_it_to_the_download(
        auditor, api_client_for, quarter_data, django_capture_on_commit_callbacks):
    client = api_client_for(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/evidence-packs/", {"scope": "control_period", **CONTROL_JULY}, format="json")
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"id", "status"}
    detail = client.get(f"/api/v1/evidence-packs/{response.json()['id']}/").json()
    assert detail["status"] == "ready" and detail["progress"] == 100 and len(detail["sha256"]) == 64
    download = client.get(detail["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    body = b"".join(download.streaming_content)
    with zipfile.ZipFile(BytesIO(body)) as zf:
        assert "manifest.json" in zf.namelist()
    assert AuditEvent.objects.filter(action="evidence_pack.downloaded", object_id=str(detail["id"]),
                                     actor_label="audra").count() == 1


def test_bad_parameters_get_a_400_naming_the_field(auditor, api_client_for):
    response = api_client_for(auditor).post("/api/v1/evidence-packs/", {
        "scope": "control_period", "control": "sox_change_management", "period_start": "2026-07-31",
        "period_end": "2026-07-01"}, format="json")
    assert response.status_code == 400
    assert "period_end" in response.json()["error"]["fields"]
    unknown = api_client_for(auditor).post("/api/v1/evidence-packs/", {"scope": "change", "change": "CHG-999999"},
                                           format="json")
    assert unknown.status_code == 404


@pytest.mark.parametrize("persona", ["requester", "approver", "release_manager", "executive", "access_admin",
                                     "outsider", "service_account"])
def test_no_one_but_auditors_gets_anything_from_the_api(persona, request, ready_pack, api_client_for):
    user = request.getfixturevalue(persona)
    client = api_client_for(user)
    urls = ["/api/v1/evidence-packs/", f"/api/v1/evidence-packs/{ready_pack.pk}/",
            f"/api/v1/evidence-packs/{ready_pack.pk}/download/", "/api/v1/evidence-packs/keys/"]
    for url in urls:
        assert client.get(url).status_code in (403, 404), url
    assert client.post("/api/v1/evidence-packs/", {"scope": "control_period", **CONTROL_JULY},
                       format="json").status_code == 403
    assert not AuditEvent.objects.filter(action="evidence_pack.downloaded").exists()


def test_anonymous_callers_get_401(api_client, ready_pack):
    for url in ["/api/v1/evidence-packs/", f"/api/v1/evidence-packs/{ready_pack.pk}/",
                f"/api/v1/evidence-packs/{ready_pack.pk}/download/"]:
        assert api_client.get(url).status_code == 401
    assert api_client.post("/api/v1/evidence-packs/", {}, format="json").status_code == 401


def test_a_token_without_the_evidence_scope_cannot_request(auditor, api_client_for):
    client = api_client_for(auditor, scopes=["audit:read"])
    response = client.post("/api/v1/evidence-packs/", {"scope": "control_period", **CONTROL_JULY}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "insufficient_scope"
    assert not EvidencePack.objects.exists()


WORKSPACE_PAGES = ["/audit/", "/audit/packs/table/", "/audit/keys/", "/audit/retention/", "/audit/holds/"]


@pytest.mark.parametrize("persona", ["requester", "approver", "executive", "outsider"])
def test_no_one_but_auditors_gets_the_workspace_or_a_download(persona, request, client, ready_pack):
    client.force_login(request.getfixturevalue(persona))
    for url in [*WORKSPACE_PAGES, f"/audit/packs/{ready_pack.pk}/download/"]:
        assert client.get(url).status_code in (403, 404), url
    assert client.post("/audit/packs/", {"scope": "control_period", **CONTROL_JULY}).status_code == 403
    assert client.post("/audit/holds/", {"title": "x", "reason": "y"}).status_code == 403
    assert EvidencePack.objects.count() == 1
    assert not AuditEvent.objects.filter(action="evidence_pack.downloaded").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, ready_pack):
    for url in [*WORKSPACE_PAGES, f"/audit/packs/{ready_pack.pk}/download/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_an_auditor_downloads_from_the_workspace_and_the_download_is_audited(client, auditor, ready_pack):
    client.force_login(auditor)
    response = client.get(f"/audit/packs/{ready_pack.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"PK"
    assert AuditEvent.objects.filter(action="evidence_pack.downloaded", object_id=str(ready_pack.pk)).exists()


def test_the_workspace_searches_and_lists_packs_in_a_fixed_number_of_queries(
        client, auditor, ready_pack, quarter_data, django_assert_max_num_queries, django_capture_on_commit_callbacks):
    generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    client.force_login(auditor)
    with django_assert_max_num_queries(16):
        response = client.get("/audit/", {"q": "payments-api"})
    html = response.content.decode()
    assert quarter_data["good"].number in html and f'id="pack-{ready_pack.pk}"' in html
    assert "Download" in html


def test_a_running_pack_makes_the_table_poll(client, auditor):
    from django.utils import timezone

    EvidencePack.objects.create(scope="control_period", parameters={}, title="t", status="running", progress=40,
                                requested_by=auditor, requested_at=timezone.now())
    client.force_login(auditor)
    html = client.get("/audit/packs/table/").content.decode()
    assert 'hx-trigger="every 2s"' in html and 'value="40"' in html


def test_requesting_from_the_workspace_form_makes_a_pack(client, auditor, quarter_data,
                                                        django_capture_on_commit_callbacks):
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/audit/packs/", {"scope": "control_period", **CONTROL_JULY})
    assert response.status_code == 302
    assert EvidencePack.objects.get().status == "ready"
    bad = client.post("/audit/packs/", {"scope": "control_period", "control": "sox_change_management"})
    assert bad.status_code == 400 and "Required for this scope" in bad.content.decode()


def test_public_keys_stay_published_after_rotation(auditor, settings, client, quarter_data,
                                                   django_capture_on_commit_callbacks):
    first = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from apps.audit.models import SigningKey

    settings.EVIDENCE_SIGNING_KEY_PEM = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    second = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    keys = list(SigningKey.objects.order_by("first_used_at"))
    assert len(keys) == 2 and keys[0].retired_at is not None and keys[1].retired_at is None
    assert keys[0].is_development and not keys[1].is_development
    assert second.signing_key == keys[1] and first.signing_key == keys[0]
    client.force_login(auditor)
    html = client.get("/audit/keys/").content.decode()
    assert keys[0].key_id in html and keys[1].key_id in html


def test_absurd_numbers_are_answered_not_crashed_on(client, auditor, api_client_for):
    client.force_login(auditor)
    assert client.get("/audit/", {"q": "9" * 30}).status_code == 200
    response = api_client_for(auditor).post("/api/v1/evidence-packs/", {"scope": "change", "change": "9" * 30},
                                            format="json")
    assert response.status_code == 404
