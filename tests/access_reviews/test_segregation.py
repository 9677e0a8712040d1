"""Nobody certifies a grant they issued (or hold): refused on every path (service, htmx row, bulk,
API), routed to another reviewer at opening, and shown as needing another reviewer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.access_reviews.models import ReviewItem
from apps.access_reviews.services import item_decide, item_reassign
from apps.audit.models import AuditEvent
from releaseportal.errors import NotAllowed

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued_by_admin(team_lead, approver, access_admin, service, make_grant, open_campaign):
    """adam's approver grant, issued by gina (an access admin); lena (the lead) reviews it."""
    grant = make_grant(approver, service, actor=access_admin)
    item = open_campaign().items.get(grant=grant)
    assert item.reviewer == team_lead
    return item


def _undecided(item) -> bool:
    item.refresh_from_db()
    return item.decision == "" and item.decided_by_id is None


def test_it_refuses_a_reviewer_certifying_a_grant_she_issued(issued_by_admin, access_admin):
    events = AuditEvent.objects.count()
    with pytest.raises(NotAllowed) as exc:
        item_decide(item=issued_by_admin, decision="keep", actor=access_admin)
    assert exc.value.code == "self_review_forbidden" and "You issued this grant" in exc.value.message
    assert _undecided(issued_by_admin) and AuditEvent.objects.count() == events


def test_the_htmx_row_refuses_the_issuer_and_says_it_needs_another_reviewer(client, issued_by_admin, access_admin):
    client.force_login(access_admin)
    response = client.post(reverse("access_reviews:item-decide", args=[issued_by_admin.pk]), {"decision": "keep"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You issued this grant" in body and "Needs another reviewer" in body and 'name="decision"' not in body
    assert _undecided(issued_by_admin)


def test_bulk_decisions_skip_grants_the_admin_issued(client, issued_by_admin, access_admin, requester, service,
                                                     make_grant):
    other = ReviewItem.objects.create(campaign=issued_by_admin.campaign, grant=make_grant(requester, service, "deployer"),
                                      reviewer=issued_by_admin.reviewer)
    client.force_login(access_admin)
    response = client.post(reverse("access_reviews:items-bulk"),
                           {"items": [issued_by_admin.pk, other.pk], "decision": "revoke"})
    assert response.status_code == 302
    assert _undecided(issued_by_admin)
    other.refresh_from_db()
    assert other.decision == "revoke" and other.decided_by == access_admin


def test_the_api_refuses_the_issuer_naming_the_field(api_client_for, issued_by_admin, access_admin):
    response = api_client_for(access_admin).post(f"/api/v1/access/items/{issued_by_admin.pk}/decision/",
                                                 {"decision": "keep"}, format="json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "self_review_forbidden" and "reviewer" in error["fields"]
    assert _undecided(issued_by_admin)


def test_the_reviewer_who_did_not_issue_it_decides(issued_by_admin, team_lead):
    assert item_decide(item=issued_by_admin, decision="keep", actor=team_lead).decided_by == team_lead


def test_a_grant_the_team_lead_issued_goes_to_an_access_admin(team_lead, approver, access_admin, service, make_grant,
                                                             open_campaign):
    grant = make_grant(approver, service, actor=team_lead)
    item = open_campaign().items.get(grant=grant)
    assert item.reviewer == access_admin and item.reassigned_from == team_lead
    assert "issued" in item.assignment_note
    with pytest.raises(NotAllowed):
        item_reassign(item=item, reviewer=team_lead, actor=access_admin)
    item.refresh_from_db()
    assert item.reviewer == access_admin


def test_when_only_the_issuer_could_review_the_item_is_marked_and_shown(client, approver, access_admin, service,
                                                                      make_grant, open_campaign):
    """No team lead, one access admin, and she issued the grant: she gets the item marked as needing
    another reviewer, her page says so, offers no decision, and the service refuses her."""
    grant = make_grant(approver, service, actor=access_admin)
    item = open_campaign().items.get(grant=grant)
    assert item.reviewer == access_admin and item.assignment_note.startswith("Needs another reviewer")
    client.force_login(access_admin)
    body = client.get(reverse("access_reviews:reviews")).content.decode()
    assert 'id="needs-another-reviewer"' in body and "1 item needs another reviewer" in body
    assert f'id="item-{item.pk}"' in body and "Needs another reviewer</span>" in body
    assert f'value="{item.pk}" form="bulk-form"' not in body  # no checkbox, no form for it
    with pytest.raises(NotAllowed):
        item_decide(item=item, decision="keep", actor=access_admin)
