"""The governance section of the monthly report: every figure computed from the named models of
the apps it reads (none skipped), and access-review revocations counted by what was applied."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.reports.governance import compute_governance
from apps.reports.metrics import compute_report
from apps.reports.periods import Month

from .conftest import at

pytestmark = pytest.mark.django_db

OCT = Month(2026, 10)


def _governance():
    report = compute_report(OCT)
    return compute_governance(report.prep, OCT, service_ids=None, as_of=report.as_of)


@pytest.fixture
def closed_campaign(service, environments, access_admin, approver, requester, cab_member, release_manager):
    """A campaign closed in October: one grant revoked by its reviewer, one revoked by policy
    (undecided and inactive: no reviewer decision at all), one kept, one left undecided."""
    from apps.access_reviews.models import AccessGrant, ReviewCampaign, ReviewItem

    campaign = ReviewCampaign.objects.create(name="Q4 2026", due_date=dt.date(2026, 10, 15), opened_at=at("2026-10-01 09:00"),
                                             status=ReviewCampaign.Status.CLOSED, closed_at=at("2026-10-16 09:00"))
    rows = [(approver, "revoke", ReviewItem.Outcome.REVOKED), (requester, "", ReviewItem.Outcome.REVOKED_BY_POLICY),
            (cab_member, "keep", ReviewItem.Outcome.KEPT), (release_manager, "", ReviewItem.Outcome.UNDECIDED)]
    for holder, decision, outcome in rows:
        grant = AccessGrant.objects.create(user=holder, privilege="deployer", service=service,
                                           environment=environments["prod"], justification="releases",
                                           granted_by=access_admin)
        ReviewItem.objects.create(campaign=campaign, grant=grant, reviewer=access_admin, decision=decision,
                                  outcome=outcome, decided_by=access_admin if decision else None)
    return campaign


def test_revocations_by_policy_count_as_revocations_in_the_monthly_report(closed_campaign):
    [campaign] = _governance().campaigns
    assert campaign["name"] == "Q4 2026" and campaign["items"] == 4
    assert campaign["revocations"] == 2  # the reviewer's and the policy's
    assert campaign["decided"] == 2 and campaign["completion"] == 0.5


def test_a_revoke_decision_not_yet_applied_is_not_a_revocation(closed_campaign):
    from apps.access_reviews.models import ReviewCampaign, ReviewItem

    ReviewCampaign.objects.filter(pk=closed_campaign.pk).update(status=ReviewCampaign.Status.OPEN, closed_at=None)
    ReviewItem.objects.filter(campaign=closed_campaign).update(outcome="")
    [campaign] = _governance().campaigns
    assert campaign["revocations"] == 0 and campaign["decided"] == 2


def test_every_governance_figure_is_computed_none_is_skipped(october):
    gov = _governance()
    for name in ("changes_implemented", "changes_failed", "approval_sla_breaches", "open_stages_past_due",
                 "changes_submitted", "emergency_changes", "overdue_post_mortems", "overdue_retrospectives",
                 "unauthorised_changes", "unauthorized_deployments", "incidents"):
        assert isinstance(gov.figures[name], int), name
    assert not hasattr(gov, "missing")  # no "not yet available" section: a missing model raises
