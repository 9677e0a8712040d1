"""Pre-rollback evidence: hashed with SHA-256, size-limited, and immutable once attached."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.incidents import services
from apps.incidents.models import ImmutableRecord, IncidentAttachment
from releaseportal.errors import InvalidInput, Unprocessable

pytestmark = pytest.mark.django_db

LOG = b"2026-10-01T12:00:01Z ERROR pool exhausted\n" * 50


def test_an_attachment_is_stored_with_its_sha256(incident, requester):
    attachment = services.attachment_add(incident=incident, kind="log", actor=requester,
                                         upload=SimpleUploadedFile("api.log", LOG, content_type="text/plain"))
    assert attachment.sha256 == hashlib.sha256(LOG).hexdigest()
    assert attachment.size == len(LOG) and attachment.filename == "api.log"
    with attachment.file.open("rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == attachment.sha256
    assert incident.updates.filter(kind="attachment").exists()


def test_a_typed_note_is_stored_as_text(incident, requester):
    attachment = services.attachment_add(incident=incident, kind="note", actor=requester,
                                         text="p95 at 2.4s before the rollback")
    assert attachment.sha256 == hashlib.sha256(b"p95 at 2.4s before the rollback").hexdigest()


def test_an_attachment_cannot_be_changed_or_deleted(incident, requester):
    attachment = services.attachment_add(incident=incident, kind="log", actor=requester,
                                         upload=SimpleUploadedFile("api.log", LOG))
    attachment.description = "edited"
    with pytest.raises(ImmutableRecord):
        attachment.save()
    with pytest.raises(ImmutableRecord):
        attachment.delete()
    fresh = IncidentAttachment.objects.get(pk=attachment.pk)
    assert fresh.description == "" and fresh.sha256 == hashlib.sha256(LOG).hexdigest()


def test_a_file_over_the_limit_is_refused(incident, requester, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    with pytest.raises(Unprocessable) as exc:
        services.attachment_add(incident=incident, kind="log", actor=requester,
                                upload=SimpleUploadedFile("big.log", b"x" * 101))
    assert exc.value.code == "file_too_large"
    assert not IncidentAttachment.objects.exists()


def test_an_empty_file_is_refused(incident, requester):
    with pytest.raises(InvalidInput):
        services.attachment_add(incident=incident, kind="log", actor=requester,
                                upload=SimpleUploadedFile("empty.log", b""))


def test_the_api_accepts_multipart_and_reports_the_hash(api_client_for, requester, incident, settings):
    client = api_client_for(requester)
    response = client.post(f"/api/v1/incidents/{incident.pk}/attachments/",
                           {"kind": "metric_snapshot", "file": SimpleUploadedFile("p95.csv", b"t,p95\n1,2400\n")},
                           format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["sha256"] == hashlib.sha256(b"t,p95\n1,2400\n").hexdigest()
    settings.EVIDENCE_MAX_BYTES = 5
    too_big = client.post(f"/api/v1/incidents/{incident.pk}/attachments/",
                          {"kind": "log", "file": SimpleUploadedFile("x.log", b"123456")}, format="multipart")
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "file_too_large"


def test_there_is_no_api_path_to_change_an_attachment(api_client_for, requester, incident):
    client = api_client_for(requester)
    created = client.post(f"/api/v1/incidents/{incident.pk}/attachments/",
                          {"kind": "note", "text": "before"}, format="json").json()
    url = f"/api/v1/incidents/{incident.pk}/attachments/"
    assert client.put(url, {"kind": "note", "text": "after"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert IncidentAttachment.objects.get(pk=created["id"]).sha256 == created["sha256"]


def test_the_download_returns_the_same_bytes(client, requester, incident):
    attachment = services.attachment_add(incident=incident, kind="log", actor=requester,
                                         upload=SimpleUploadedFile("api.log", LOG))
    client.force_login(requester)
    response = client.get(f"/incidents/{incident.pk}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == LOG
    assert response["X-Content-SHA256"] == attachment.sha256
