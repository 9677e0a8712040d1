"""The demo's group mapping is imported as policy by the access admin: one audit event, history
rows naming her, and a second seed changes nothing."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from apps.audit.models import AuditEvent
from apps.sso import demo
from apps.sso.models import GroupMapping
from apps.sso.services import mapped_access
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_the_demo_mapping_is_imported_once_by_the_access_admin(access_admin):
    for slug in ("payments", "storefront", "infrastructure"):
        TeamFactory(slug=slug)
    ctx = SimpleNamespace(users={"grace": access_admin}, say=io.StringIO().write)

    demo.seed(ctx)
    demo.seed(ctx)

    assert GroupMapping.objects.count() == 11
    event = AuditEvent.objects.get(action="sso.group_mapping_imported")
    assert event.actor_label == access_admin.username
    assert "+ rp-cab → role cab_member" in event.details["diff"]
    assert set(GroupMapping.history.values_list("history_user_id", flat=True)) == {access_admin.pk}
    roles, teams, *_ = mapped_access(["rp-engineers-payments", "rp-cab"])
    assert roles == {"requester", "cab_member", "approver"} and teams == {"payments"}
