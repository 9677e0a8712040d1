"""Access review fixtures: a production grant maker and a team with a lead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Personas are created with a password per test; the default hasher costs seconds on a busy CI box.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team_lead(roles_ready, team):
    from tests.factories import UserFactory

    lead = UserFactory(username="lena", first_name="Lena", roles=("approver",), team=team)
    team.lead = lead
    team.save(update_fields=["lead"])
    return lead


@pytest.fixture
def grant_issuer(roles_ready):
    """Who issues the fixtures' grants: not a reviewer, so access admins may certify them (nobody
    certifies a grant they issued)."""
    from tests.factories import UserFactory

    return UserFactory(username="ines", first_name="Ines", is_superuser=True, is_staff=True)


@pytest.fixture
def make_grant(environments, grant_issuer):
    """make_grant(user, service, privilege="approver", env="prod", days_old=0, last_used_days=None, actor=grant_issuer)."""
    from apps.access_reviews.models import AccessGrant
    from apps.access_reviews.services import grant_create

    def make(user, service, privilege="approver", env="prod", days_old=0, last_used_days=None, actor=None, **kwargs):
        grant = grant_create(user=user, privilege=privilege, service=service, environment=environments[env],
                             justification="needed for on-call", actor=actor or grant_issuer, **kwargs)
        updates = {}
        if days_old:
            updates["granted_at"] = timezone.now() - timedelta(days=days_old)
        if last_used_days is not None:
            updates["last_used_at"] = timezone.now() - timedelta(days=last_used_days)
        if updates:
            AccessGrant.objects.filter(pk=grant.pk).update(**updates)
            grant.refresh_from_db()
        return grant

    return make


@pytest.fixture
def access_grant_set(approver, requester, service, make_grant, access_admin):
    """Four grants: adam approver (revoked) and deployer on prod, rita deployer on prod and staging."""
    from apps.access_reviews.services import grant_revoke

    revoked = make_grant(approver, service, "approver")
    grant_revoke(grant=revoked, reason="rotation", actor=access_admin)
    return [revoked, make_grant(approver, service, "deployer"), make_grant(requester, service, "deployer"),
            make_grant(requester, service, "deployer", env="staging")]


@pytest.fixture
def second_admin(roles_ready):
    from tests.factories import UserFactory

    return UserFactory(username="gabe", first_name="Gabe", roles=("access_admin",))


@pytest.fixture
def open_campaign(access_admin):
    """open_campaign(**kwargs) -> an all-production campaign due in two weeks."""
    from apps.access_reviews.services import campaign_open

    def make(**kwargs):
        kwargs.setdefault("name", "Q4 review")
        kwargs.setdefault("due_date", timezone.localdate() + timedelta(days=14))
        kwargs.setdefault("actor", access_admin)
        return campaign_open(**kwargs)

    return make


@pytest.fixture
def production_change(requester, service, environments, db):
    """A change to payments-api in production, submitted, waiting for a group 'approver' stage."""
    from apps.change_types.models import ApprovalStage, ChangeType
    from apps.changes.services import change_create, change_submit

    change_type = ChangeType.objects.create(slug="access-test", name="Access test")
    ApprovalStage.objects.create(change_type=change_type, order=1, name="Approval", approver_kind="group",
                                 approver_group="approver", rule="any", quorum=1, sla_hours=24, mandatory=True,
                                 applies_when="always", is_cab=False)
    start = timezone.now() + timedelta(days=3)
    change = change_create(actor=requester, title="Rotate the card vault keys", change_type=change_type,
                           service=service, environment=environments["prod"], planned_start=start,
                           planned_end=start + timedelta(hours=1), rollback_plan="Restore the previous keys",
                           rollback_criteria={"error_rate_pct": 5})
    return change_submit(change=change, actor=requester)
