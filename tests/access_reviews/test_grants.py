"""Grants are the single source of truth for production privileges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access_reviews.models import AccessGrant
from apps.access_reviews.services import (
    grant_create,
    grant_revoke,
    grants_expire_due,
    grants_flag_for_review,
)
from apps.audit.models import AuditEvent
from apps.catalog.privileges import holds_privilege
from apps.catalog.signals import privilege_exercised
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

pytestmark = pytest.mark.django_db


def test_a_production_grant_gives_the_privilege(approver, service, environments, make_grant):
    assert not holds_privilege(approver, "approver", service, environments["prod"])
    make_grant(approver, service, "approver")
    assert holds_privilege(approver, "approver", service, environments["prod"])
    assert not holds_privilege(approver, "deployer", service, environments["prod"])


def test_a_non_production_grant_derives_no_permission(approver, service, environments, make_grant):
    make_grant(approver, service, "deployer", env="staging")
    assert not holds_privilege(approver, "deployer", service, environments["prod"])


def test_revocation_takes_the_permission_away_at_once(approver, access_admin, service, environments, make_grant):
    grant = make_grant(approver, service, "approver")
    grant_revoke(grant=grant, reason="moved to another team", actor=access_admin)
    assert not holds_privilege(approver, "approver", service, environments["prod"])
    grant.refresh_from_db()
    assert grant.status == "revoked" and grant.revoked_by == access_admin
    assert AuditEvent.objects.filter(action="access_grant.revoked", object_id=str(grant.pk)).exists()
    assert grant.history.filter(revoked_at__isnull=False).exists()


def test_the_permission_stays_while_another_grant_backs_it(approver, access_admin, service, environments, make_grant):
    from apps.catalog.models import Environment

    dr = Environment.objects.create(slug="prod-dr", name="Production DR", order=40, is_production=True)
    first = make_grant(approver, service, "deployer")
    grant_create(user=approver, privilege="deployer", service=service, environment=dr, justification="dr",
                 actor=access_admin)
    grant_revoke(grant=first, reason="not needed in main prod", actor=access_admin)
    assert holds_privilege(approver, "deployer", service, environments["prod"])


def test_it_refuses_a_duplicate_live_grant(approver, service, make_grant):
    make_grant(approver, service, "approver")
    with pytest.raises(Conflict) as exc:
        make_grant(approver, service, "approver")
    assert exc.value.code == "grant_exists"


def test_it_refuses_granting_to_oneself(access_admin, service, environments):
    with pytest.raises(NotAllowed) as exc:
        grant_create(user=access_admin, privilege="approver", service=service, environment=environments["prod"],
                     justification="me", actor=access_admin)
    assert exc.value.code == "self_grant_forbidden"


def test_it_requires_a_justification(approver, access_admin, service, environments):
    with pytest.raises(InvalidInput) as exc:
        grant_create(user=approver, privilege="approver", service=service, environment=environments["prod"],
                     justification="  ", actor=access_admin)
    assert "justification" in exc.value.fields


def test_revoking_twice_is_a_conflict(approver, access_admin, service, make_grant):
    grant = make_grant(approver, service)
    grant_revoke(grant=grant, reason="r", actor=access_admin)
    with pytest.raises(Conflict):
        grant_revoke(grant=grant, reason="again", actor=access_admin)


def test_expired_grants_lose_their_permission(approver, access_admin, service, environments, make_grant):
    grant = make_grant(approver, service, "deployer", expires_at=timezone.now() + timedelta(hours=1))
    assert holds_privilege(approver, "deployer", service, environments["prod"])
    assert grants_expire_due(actor=access_admin) == 0
    assert grants_expire_due(actor=access_admin, now=timezone.now() + timedelta(hours=2)) == 1
    grant.refresh_from_db()
    assert grant.expired_at is not None and grant.status == "expired"
    assert not holds_privilege(approver, "deployer", service, environments["prod"])
    assert AuditEvent.objects.filter(action="access_grant.expired", object_id=str(grant.pk)).exists()
    assert grant.history.filter(expired_at__isnull=False).exists()
    # Idempotent: nothing left to expire.
    assert grants_expire_due(actor=access_admin, now=timezone.now() + timedelta(hours=3)) == 0


def test_the_beat_task_expires_grants(approver, service, environments, make_grant):
    from apps.access_reviews.tasks import expire_grants

    grant = make_grant(approver, service, "deployer", expires_at=timezone.now() + timedelta(seconds=1))
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_grants.delay().get() == 1
    event = AuditEvent.objects.get(action="access_grant.expired", object_id=str(grant.pk))
    assert event.actor_label == "task:access_reviews.expire_grants"


def test_exercising_a_privilege_refreshes_last_used(approver, service, environments, make_grant):
    grant = make_grant(approver, service, "approver")
    at = timezone.now()
    privilege_exercised.send(sender=None, user=approver, privilege="approver", service=service,
                             environment=environments["prod"], at=at)
    grant.refresh_from_db()
    assert grant.last_used_at == at
    # last_used_at is bookkeeping, not a history entry.
    assert grant.history.count() == 1


def test_leaving_the_team_flags_grants_on_its_services(approver, access_admin, team, service, make_grant):
    from apps.accounts.services import team_membership_remove

    grant = make_grant(approver, service, "approver")
    team_membership_remove(team=team, user=approver, actor=access_admin)
    grant.refresh_from_db()
    assert grant.flagged_at is not None and "Left team Payments" in grant.flag_reason
    assert AuditEvent.objects.filter(action="access_grant.flagged", object_id=str(grant.pk)).exists()


def test_flagging_ignores_other_teams_services(approver, access_admin, other_team, service, make_grant):
    grant = make_grant(approver, service, "approver")
    assert grants_flag_for_review(user=approver, team=other_team, actor=access_admin) == 0
    grant.refresh_from_db()
    assert grant.flagged_at is None
