"""A revocation applied by a review takes effect at once in the other apps."""

from __future__ import annotations

import pytest

from apps.access_reviews.services import campaign_close, item_decide
from apps.catalog.privileges import holds_privilege
from releaseportal.errors import NotAllowed

pytestmark = pytest.mark.django_db


def test_a_revoked_approver_can_no_longer_approve(team_lead, access_admin, approver, cab_member, service,
                                                  environments, make_grant, open_campaign, production_change,
                                                  api_client_for):
    from apps.changes.services import approval_record

    grant = make_grant(approver, service, "approver", last_used_days=3)
    make_grant(cab_member, service, "approver", last_used_days=3)
    campaign = open_campaign()
    item_decide(item=campaign.items.get(grant=grant), decision="revoke", actor=team_lead)
    assert holds_privilege(approver, "approver", service, environments["prod"])
    campaign_close(campaign=campaign, actor=access_admin)

    with pytest.raises(NotAllowed) as exc:
        approval_record(change=production_change, approver=approver, decision="approve", comment="ok")
    assert exc.value.code == "approver_privilege_required"
    response = api_client_for(approver).post(f"/api/v1/changes/{production_change.pk}/approvals/",
                                             {"decision": "approve", "comment": "ok"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "approver_privilege_required"
    # The kept approver still can: the refusal is the revocation, not the set-up.
    approval_record(change=production_change, approver=cab_member, decision="approve", comment="looks right")


def test_an_approval_refreshes_last_used(approver, service, environments, make_grant, production_change,
                                         django_capture_on_commit_callbacks):
    from apps.changes.services import approval_record

    grant = make_grant(approver, service, "approver")
    assert grant.last_used_at is None
    with django_capture_on_commit_callbacks(execute=True):
        approval_record(change=production_change, approver=approver, decision="approve", comment="fine")
    grant.refresh_from_db()
    assert grant.last_used_at is not None
