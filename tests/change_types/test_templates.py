"""Standard change templates: proposed, approved by someone else, versioned, retired; only an
approved version files a standard change, straight to scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.change_types.services import template_approve, template_propose, template_retire
from apps.changes.services import change_create, change_submit
from releaseportal.errors import InvalidInput, NotAllowed


@pytest.fixture
def proposed(requester):
    return template_propose(actor=requester, slug="cert-rotation", name="Certificate rotation",
                            description="Rotate TLS certificates with the standard runbook")


def test_the_proposer_cannot_approve_their_template(proposed, requester, release_manager):
    requester.groups.add(*release_manager.groups.all())
    with pytest.raises(NotAllowed) as exc:
        template_approve(template=proposed, actor=requester)
    assert exc.value.code in ("self_approval_forbidden",)


def test_versions_supersede_each_other(proposed, release_manager, requester):
    template_approve(template=proposed, actor=release_manager)
    v2 = template_propose(actor=requester, slug="cert-rotation", name="Certificate rotation",
                          description="Now with OCSP stapling")
    assert v2.version == 2
    v2 = template_approve(template=v2, actor=release_manager)
    proposed.refresh_from_db()
    assert proposed.state == "superseded" and v2.state == "approved"


def test_a_standard_change_from_an_approved_template_is_scheduled_at_once(proposed, release_manager, requester,
                                                                        seeded_types, service, environments):
    start = timezone.now() + timedelta(days=1)
    with pytest.raises(InvalidInput):
        change_create(actor=requester, title="Rotate", change_type=seeded_types["standard"], service=service,
                      environment=environments["prod"], planned_start=start, planned_end=start + timedelta(hours=1),
                      standard_template=proposed)
    proposed = template_approve(template=proposed, actor=release_manager)
    change = change_create(actor=requester, title="Rotate", change_type=seeded_types["standard"], service=service,
                           environment=environments["prod"], planned_start=start, planned_end=start + timedelta(hours=1),
                           standard_template=proposed, rollback_plan="Restore the old certificates",
                           rollback_criteria={"error_rate_pct": 5})
    change = change_submit(change=change, actor=requester)
    assert change.state == "scheduled"


def test_a_retired_template_files_nothing(proposed, release_manager, requester, seeded_types, service, environments):
    proposed = template_approve(template=proposed, actor=release_manager)
    proposed = template_retire(template=proposed, actor=release_manager, reason="Replaced by automation")
    assert proposed.state == "retired"
    with pytest.raises(InvalidInput):
        change_create(actor=requester, title="Rotate", change_type=seeded_types["standard"], service=service,
                      environment=environments["prod"], standard_template=proposed)


def test_template_pages(client, requester, release_manager, proposed, outsider):
    from django.urls import reverse

    url = reverse("change_types:templates")
    assert client.get(url).status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert client.get(reverse("change_types:list")).status_code == 403
    client.force_login(requester)
    assert "Certificate rotation" in client.get(url).content.decode()
    assert client.post(reverse("change_types:template_approve", args=[proposed.pk])).status_code == 302
    proposed.refresh_from_db()
    assert proposed.state == "proposed"
    client.force_login(release_manager)
    client.post(reverse("change_types:template_approve", args=[proposed.pk]))
    proposed.refresh_from_db()
    assert proposed.state == "approved"



def test_change_types_page_lists_workflows(client, requester, seeded_types):
    from django.urls import reverse

    client.force_login(requester)
    body = client.get(reverse("change_types:list")).content.decode()
    assert "Technical review" in body and "quorum 2" in body and "DBA sign-off" in body
