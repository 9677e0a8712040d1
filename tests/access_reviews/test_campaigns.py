"""Opening campaigns, assigning reviewers, deciding, closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access_reviews.models import AccessGrant, ReviewCampaign, ReviewItem
from apps.access_reviews.services import (
    campaign_close,
    grant_revoke,
    item_decide,
    item_reassign,
    items_decide_bulk,
)
from apps.audit.models import AuditEvent
from apps.catalog.privileges import holds_privilege
from releaseportal.errors import Conflict, InvalidInput, NotAllowed, Unprocessable

pytestmark = pytest.mark.django_db


def test_each_production_grant_becomes_an_item_for_the_team_lead(team_lead, approver, requester, service, make_grant,
                                                                 open_campaign):
    prod = make_grant(approver, service, "approver")
    make_grant(requester, service, "deployer")
    make_grant(requester, service, "deployer", env="staging")  # not production: not reviewed
    campaign = open_campaign()
    items = list(campaign.items.order_by("pk"))
    assert len(items) == 2
    assert {i.reviewer for i in items} == {team_lead}
    assert set(campaign.reviewers.all()) == {team_lead}
    item = campaign.items.get(grant=prod)
    assert item.context["roles"] == ["approver"] and item.context["teams"] == ["payments"]
    assert item.context["in_owner_team"] is True
    opened = AuditEvent.objects.get(action="access_review.campaign_opened", object_id=str(campaign.pk))
    assert opened.details["items"] == 2 and opened.details["reviewers"] == 1


def test_revoked_and_expired_grants_are_not_reviewed(team_lead, approver, access_admin, service, make_grant,
                                                     open_campaign):
    grant_revoke(grant=make_grant(approver, service, "approver"), reason="gone", actor=access_admin)
    assert open_campaign().items.count() == 0


def test_self_review_goes_to_another_reviewer(team_lead, access_admin, service, make_grant, open_campaign):
    own = make_grant(team_lead, service, "approver")
    campaign = open_campaign()
    item = campaign.items.get(grant=own)
    assert item.reviewer == access_admin
    assert item.reassigned_from == team_lead
    assert "lead holds this grant" in item.assignment_note


def test_without_a_lead_an_access_admin_reviews(approver, access_admin, service, make_grant, open_campaign):
    grant = make_grant(approver, service)
    assert open_campaign().items.get(grant=grant).reviewer == access_admin


def test_nobody_decides_their_own_grant(approver, access_admin, second_admin, service, make_grant, open_campaign):
    own = make_grant(second_admin, service, "approver")
    campaign = open_campaign()
    item = campaign.items.get(grant=own)
    assert item.reviewer == access_admin  # the other admin, never the holder
    with pytest.raises(NotAllowed) as exc:
        item_decide(item=item, decision="keep", actor=second_admin)
    assert exc.value.code == "self_review_forbidden"
    with pytest.raises(NotAllowed):
        item_reassign(item=item, reviewer=second_admin, actor=access_admin)


def test_a_team_scope_campaign_only_covers_that_team(team, other_team, approver, service, make_grant,
                                                     open_campaign, access_admin):
    from tests.factories import ServiceFactory

    other = ServiceFactory(slug="idp", owner_team=other_team)
    make_grant(approver, service)
    make_grant(approver, other)
    campaign = open_campaign(scope="team", scope_team=other_team)
    assert [i.grant.service.slug for i in campaign.items.all()] == ["idp"]
    assert campaign.scope_label() == "Team: Identity"


def test_a_compliance_scope_campaign_covers_services_in_scope(approver, service, make_grant, open_campaign, team):
    from tests.factories import ServiceFactory

    hipaa = ServiceFactory(slug="records", owner_team=team, compliance_scopes=["hipaa"])
    make_grant(approver, service)
    make_grant(approver, hipaa)
    assert [i.grant.service.slug for i in open_campaign(scope="compliance", scope_compliance="pci").items.all()] == [
        "payments-api"]


def test_opening_validates_its_input(open_campaign):
    with pytest.raises(InvalidInput) as exc:
        open_campaign(name="", due_date=timezone.localdate(), scope="compliance", scope_compliance="iso")
    assert set(exc.value.fields) == {"name", "due_date", "compliance_scope"}


def test_keeping_an_unused_grant_needs_a_justification(team_lead, approver, service, make_grant, open_campaign):
    grant = make_grant(approver, service, days_old=200, last_used_days=120)
    item = open_campaign().items.get(grant=grant)
    with pytest.raises(Unprocessable) as exc:
        item_decide(item=item, decision="keep", actor=team_lead)
    assert exc.value.code == "justification_required" and "justification" in exc.value.fields
    with pytest.raises(Unprocessable):
        item_decide(item=item, decision="keep_until", keep_until=timezone.localdate() + timedelta(days=30),
                    actor=team_lead)
    item_decide(item=item, decision="keep", justification="Quarter-end approver for ledger", actor=team_lead)
    item.refresh_from_db()
    assert item.decision == "keep" and item.justification == "Quarter-end approver for ledger"


def test_revoking_an_unused_grant_needs_no_justification(team_lead, approver, service, make_grant, open_campaign):
    grant = make_grant(approver, service, days_old=200)
    item = open_campaign().items.get(grant=grant)
    item_decide(item=item, decision="revoke", actor=team_lead)
    assert ReviewItem.objects.get(pk=item.pk).decision == "revoke"


def test_a_recently_used_grant_is_kept_without_justification(team_lead, approver, service, make_grant,
                                                            open_campaign):
    grant = make_grant(approver, service, days_old=400, last_used_days=10)
    item = open_campaign().items.get(grant=grant)
    item_decide(item=item, decision="keep", actor=team_lead)


def test_the_inactivity_limit_is_a_setting(settings, team_lead, approver, service, make_grant, open_campaign):
    settings.ACCESS_REVIEW_INACTIVE_DAYS = 5
    grant = make_grant(approver, service, days_old=30, last_used_days=10)
    item = open_campaign().items.get(grant=grant)
    with pytest.raises(Unprocessable):
        item_decide(item=item, decision="keep", actor=team_lead)


def test_token_use_counts_as_activity_for_service_accounts(team_lead, service_account, service, make_grant,
                                                          open_campaign, token_for):
    from apps.accounts.models import ApiToken

    grant = make_grant(service_account, service, "deployer", days_old=300)
    token_for(service_account)
    ApiToken.objects.filter(user=service_account).update(last_used_at=timezone.now() - timedelta(days=2))
    item = open_campaign().items.get(grant=grant)
    item_decide(item=item, decision="keep", actor=team_lead)


def test_keep_until_needs_a_future_date(team_lead, approver, service, make_grant, open_campaign):
    grant = make_grant(approver, service)
    item = open_campaign().items.get(grant=grant)
    with pytest.raises(InvalidInput):
        item_decide(item=item, decision="keep_until", actor=team_lead)
    with pytest.raises(InvalidInput):
        item_decide(item=item, decision="keep_until", keep_until=timezone.localdate(), actor=team_lead)
    with pytest.raises(InvalidInput):
        item_decide(item=item, decision="maybe", actor=team_lead)


def test_a_second_decision_is_a_conflict(team_lead, access_admin, approver, service, make_grant, open_campaign):
    grant = make_grant(approver, service)
    item = open_campaign().items.get(grant=grant)
    item_decide(item=item, decision="keep", actor=team_lead)
    with pytest.raises(Conflict) as exc:
        item_decide(item=item, decision="revoke", actor=access_admin)
    assert exc.value.code == "already_decided" and "lena" in exc.value.message


def test_only_the_reviewer_or_an_access_admin_decides(team_lead, cab_member, approver, service, make_grant,
                                                      open_campaign):
    grant = make_grant(approver, service)
    item = open_campaign().items.get(grant=grant)
    with pytest.raises(NotAllowed) as exc:
        item_decide(item=item, decision="keep", actor=cab_member)
    assert exc.value.code == "not_the_reviewer"


def test_bulk_decisions_skip_what_they_cannot_decide(team_lead, approver, requester, implementer, service,
                                                     make_grant, open_campaign):
    fresh = make_grant(approver, service, last_used_days=1)
    stale = make_grant(requester, service, "deployer", days_old=200)
    done = make_grant(implementer, service, "deployer", last_used_days=1)
    campaign = open_campaign()
    item_decide(item=campaign.items.get(grant=done), decision="revoke", actor=team_lead)
    result = items_decide_bulk(item_ids=list(campaign.items.values_list("pk", flat=True)), decision="keep",
                               actor=team_lead)
    assert result.decided == [campaign.items.get(grant=fresh).pk]
    assert set(result.skipped) == {campaign.items.get(grant=stale).pk, campaign.items.get(grant=done).pk}
    assert "justification" in result.skipped[campaign.items.get(grant=stale).pk]


def test_closing_applies_every_outcome_at_once(team_lead, access_admin, approver, requester, implementer,
                                               cab_member, service_account, service, environments, make_grant,
                                               open_campaign, api_client, token_for):
    revoked = make_grant(approver, service, "approver", last_used_days=3)
    kept_until = make_grant(requester, service, "deployer", last_used_days=3)
    stale_undecided = make_grant(implementer, service, "deployer", days_old=300)
    fresh_undecided = make_grant(cab_member, service, "approver", last_used_days=3)
    bot = make_grant(service_account, service, "deployer", last_used_days=1)
    raw = token_for(service_account)
    campaign = open_campaign()
    until = timezone.localdate() + timedelta(days=20)
    item_decide(item=campaign.items.get(grant=revoked), decision="revoke", actor=team_lead)
    item_decide(item=campaign.items.get(grant=kept_until), decision="keep_until", keep_until=until, actor=team_lead)
    item_decide(item=campaign.items.get(grant=bot), decision="revoke", actor=team_lead)
    # Still in force until the campaign closes.
    assert holds_privilege(approver, "approver", service, environments["prod"])

    result = campaign_close(campaign=campaign, actor=access_admin)

    assert (result.revoked, result.revoked_by_policy, result.kept_until, result.undecided) == (2, 1, 1, 1)
    assert result.tokens_disabled == 1
    prod = environments["prod"]
    assert not holds_privilege(approver, "approver", service, prod)
    assert not holds_privilege(implementer, "deployer", service, prod)
    assert not holds_privilege(service_account, "deployer", service, prod)
    assert holds_privilege(cab_member, "approver", service, prod)
    assert holds_privilege(requester, "deployer", service, prod)
    kept_until.refresh_from_db()
    assert kept_until.expires_at.date() == until
    stale_undecided.refresh_from_db()
    assert "policy" in stale_undecided.revoked_reason
    outcomes = dict(campaign.items.values_list("grant_id", "outcome"))
    assert outcomes == {revoked.pk: "revoked", kept_until.pk: "kept_until", stale_undecided.pk: "revoked_by_policy",
                        fresh_undecided.pk: "undecided", bot.pk: "revoked"}
    campaign.refresh_from_db()
    assert campaign.status == "closed" and campaign.closed_by == access_admin
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/services/").status_code == 401
    assert AuditEvent.objects.filter(action="access_review.campaign_closed", object_id=str(campaign.pk)).exists()
    assert AuditEvent.objects.filter(action="access_grant.revoked").count() == 3
    with pytest.raises(Conflict):
        item_decide(item=campaign.items.get(grant=fresh_undecided), decision="keep", actor=team_lead)
    with pytest.raises(Conflict):
        campaign_close(campaign=campaign, actor=access_admin)


def test_the_policy_can_leave_undecided_grants_in_place(team_lead, access_admin, implementer, service, environments,
                                                        make_grant, open_campaign):
    make_grant(implementer, service, "deployer", days_old=300)
    campaign = open_campaign(revoke_undecided_inactive=False)
    assert campaign_close(campaign=campaign, actor=access_admin).undecided == 1
    assert holds_privilege(implementer, "deployer", service, environments["prod"])


def test_a_grant_revoked_meanwhile_is_reported_as_ended(team_lead, access_admin, approver, service, make_grant,
                                                        open_campaign):
    grant = make_grant(approver, service)
    campaign = open_campaign()
    item_decide(item=campaign.items.get(grant=grant), decision="revoke", actor=team_lead)
    grant_revoke(grant=grant, reason="left the company", actor=access_admin)
    result = campaign_close(campaign=campaign, actor=access_admin)
    assert result.revoked == 0
    assert campaign.items.get().outcome == "already_ended"
    assert AccessGrant.objects.get(pk=grant.pk).revoked_reason == "left the company"


def test_the_revoked_deployer_is_denied_by_the_gate(team_lead, access_admin, requester, service, environments,
                                                    make_grant, open_campaign):
    from apps.delivery import gate

    grant = make_grant(requester, service, "deployer")
    campaign = open_campaign()

    def denial_codes():
        verdict = gate.evaluate(user=requester, service=service, environment=environments["prod"], artifact=None,
                                artifact_ref="sha256:" + "0" * 64, change=None, change_ref="", at=timezone.now())
        return {reason["code"] for reason in verdict.reasons}

    assert "deployer_not_authorized" not in denial_codes()
    item_decide(item=campaign.items.get(grant=grant), decision="revoke", actor=team_lead)
    campaign_close(campaign=campaign, actor=access_admin)
    assert not holds_privilege(requester, "deployer", service, environments["prod"])
    assert "deployer_not_authorized" in denial_codes()


def test_campaign_status_field(open_campaign):
    assert open_campaign().status == ReviewCampaign.Status.OPEN
