"""Fixtures for change control: seeded change types, simple workflows, and change builders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone


@pytest.fixture
def seeded_types(db):
    """The seeded change types (a transactional flush removes migration data; put it back)."""
    import importlib

    from django.apps import apps as django_apps

    from apps.change_types.models import ChangeType

    if not ChangeType.objects.filter(slug="normal").exists():
        module = importlib.import_module("apps.change_types.migrations.0003_seed_change_types")
        module.seed_change_types(django_apps)
    return {t.slug: t for t in ChangeType.objects.all()}


@pytest.fixture
def make_type(db):
    """make_type(slug, stages=[dict(name, rule, quorum, group|team, mandatory)], **flags)."""
    from apps.change_types.models import ApprovalStage, ChangeType

    def make(slug="simple", stages=None, **flags):
        change_type = ChangeType.objects.create(slug=slug, name=slug.title(), **flags)
        for order, spec in enumerate(stages or [{"name": "Approval", "group": "approver"}], start=1):
            spec = dict(spec)
            team = spec.pop("team", False)
            ApprovalStage.objects.create(
                change_type=change_type, order=order, name=spec.pop("name", f"Stage {order}"),
                approver_kind="owning_team" if team else "group", approver_group=spec.pop("group", ""),
                rule=spec.pop("rule", "any"), quorum=spec.pop("quorum", 1), sla_hours=spec.pop("sla_hours", 24),
                mandatory=spec.pop("mandatory", True), applies_when=spec.pop("applies_when", "always"),
                is_cab=spec.pop("is_cab", False))
        return change_type

    return make


@pytest.fixture
def simple_type(make_type):
    return make_type("simple", [{"name": "Approval", "group": "approver"}])


@pytest.fixture
def make_change(requester, service, environments):
    """make_change(change_type, submit=False, **fields) — a change to payments-api in staging by default."""
    from apps.changes.services import change_create, change_submit

    def make(change_type, submit=False, actor=None, **fields):
        start = fields.pop("planned_start", timezone.now() + timedelta(days=3))
        fields.setdefault("planned_end", start + timedelta(hours=1))
        fields.setdefault("environment", environments["staging"])
        fields.setdefault("service", service)
        # Production changes are submitted only with a rollback plan and criteria.
        fields.setdefault("rollback_plan", "Redeploy previous")
        fields.setdefault("rollback_criteria", {"error_rate_pct": 5})
        change = change_create(actor=actor or requester, title=fields.pop("title", "Upgrade the widget"),
                               change_type=change_type, planned_start=start, **fields)
        if submit:
            change = change_submit(change=change, actor=actor or requester)
        return change

    return make


@pytest.fixture
def person(roles_ready):
    """person(username, roles=(), team=None) — extra people for quorum and 'all' stages."""
    from tests.factories import UserFactory

    def make(username, roles=("approver",), team=None, **extra):
        return UserFactory(username=username, roles=roles, team=team, **extra)

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Personas are created with a password; hashing it properly costs seconds per test on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client):
    """login(user) -> the test client, signed in as user."""
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.fixture
def pinned_october(clock):
    """The lifecycle tests' clock: nothing in them depends on the date; pinned so none changes meaning with it."""
    clock("2026-10-20 12:00")


@pytest.fixture
def api(api_client_for):
    """An API client for a user and scopes (tests/conftest.py's api_client_for)."""
    return api_client_for
