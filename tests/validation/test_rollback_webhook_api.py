"""PUT|GET /api/v1/services/{service}/rollback-webhook/: the owning team's pipeline registers
where it wants to be told to roll back; the secret is stored encrypted and never shown."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.validation.models import RollbackWebhook

pytestmark = pytest.mark.django_db

URL = "/api/v1/services/payments-api/rollback-webhook/"
BODY = {"url": "https://ci.example.test/hooks/rollback", "secret": "0123456789abcdef-secret", "environment": "prod",
        "pipeline": "github-actions"}


def test_the_pipeline_registers_and_replaces_its_webhook(service, environments, pipeline):
    response = pipeline.put(URL, BODY, format="json")
    assert response.status_code == 200, response.content
    assert "secret" not in response.json()
    hook = RollbackWebhook.objects.get()
    assert (hook.environment, hook.pipeline, hook.secret) == (environments["prod"], "github-actions",
                                                              "0123456789abcdef-secret")
    stored = RollbackWebhook.objects.filter(pk=hook.pk).values_list("secret", flat=True).get()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM validation_rollbackwebhook WHERE id = %s", [hook.pk])
        raw = cursor.fetchone()[0]
    assert stored == "0123456789abcdef-secret" and raw.startswith("enc:v1:") and "0123456789" not in raw
    pipeline.put(URL, {**BODY, "url": "https://ci.example.test/v2"}, format="json")
    assert RollbackWebhook.objects.get().url == "https://ci.example.test/v2"
    events = AuditEvent.objects.filter(action="validation.rollback_webhook_registered")
    assert events.count() == 2
    assert all("0123456789abcdef-secret" not in str(e.details) for e in events)
    assert all("0123456789abcdef-secret" not in str(h.__dict__) for h in hook.history.all())
    listed = pipeline.get(URL).json()
    assert [h["url"] for h in listed] == ["https://ci.example.test/v2"] and "secret" not in listed[0]


@pytest.mark.parametrize(("body", "field"), [
    ({**BODY, "url": "ftp://x"}, "url"),
    ({**BODY, "secret": "short"}, "secret"),
    ({**BODY, "environment": "moon"}, "environment"),
])
def test_bad_registrations_are_refused(service, environments, pipeline, body, field):
    response = pipeline.put(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not RollbackWebhook.objects.exists()


def test_another_team_and_an_outsider_register_nothing(service, environments, api_client_for, outsider,
                                                       release_manager):
    assert api_client_for(outsider).put(URL, BODY, format="json").status_code in (403, 404)
    assert api_client_for(outsider).get(URL).status_code in (403, 404)
    assert api_client_for(release_manager).put(URL, BODY, format="json").status_code == 403
    assert not RollbackWebhook.objects.exists()
