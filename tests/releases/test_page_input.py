"""Bad input on the release and template pages gets a clear message naming what is wrong, never a
500, and the release plan form keeps what was typed (found by walking the pages as their users)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from apps.releases.models import PipelineTemplate, Release

pytestmark = pytest.mark.django_db

PLAN = {"name": "July", "train": "core", "services": ["web"], "scope_lock_at": "2026-06-20T10:00",
        "planned_start": "2026-06-22T10:00"}


@pytest.fixture
def manager(client, release_manager):
    client.force_login(release_manager)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(("field", "value", "said"), [
    ("planned_start", "2026-13-45T10:00", "Give planned start as a date and time."),
    ("scope_lock_at", "2026-02-30T10:00", "Give scope lock at as a date and time."),
    ("planned_start", "9999-12-31T23:59", "Planned start: year outside 1..9998"),
])
def test_a_date_that_is_no_calendar_date_is_refused_by_name(manager, train, field, value, said):
    response = manager.post("/releases/", {**PLAN, field: value})
    assert response.status_code == 400
    assert any(m.startswith(said) for m in _messages(response))
    assert not Release.objects.exists()


def test_a_release_name_too_long_is_refused_not_a_database_error(manager, train):
    response = manager.post("/releases/", {**PLAN, "name": "X" * 121})
    assert response.status_code == 400
    assert _messages(response) == ["A release name is 120 characters at most."]
    assert not Release.objects.exists()


def test_a_refused_plan_keeps_what_was_typed(manager, train):
    response = manager.post("/releases/", {**PLAN, "name": "Summer", "services": ["web", "ledger"],
                                           "scope_lock_at": "2026-06-25T10:00"})  # locks after the start
    assert response.status_code == 400
    html = response.content.decode()
    assert "The scope locks before the release starts." in html
    assert re.search(r'id="r-name"[^>]*value="Summer"', html)
    assert re.search(r'name="scope_lock_at"[^>]*value="2026-06-25T10:00"', html)
    assert re.search(r'value="web" checked', html) and re.search(r'value="ledger" checked', html)
    assert not re.search(r'value="payments-api" checked', html)


def test_a_template_name_too_long_is_refused_not_a_database_error(manager):
    response = manager.post("/releases/templates/", {"slug": "std", "name": "N" * 121})
    assert response.status_code == 302
    assert _messages(response) == ["A template name is 120 characters at most."]
    assert not PipelineTemplate.objects.exists()


def test_a_template_with_an_unknown_owner_team_is_refused_not_registered_ownerless(manager):
    response = manager.post("/releases/templates/", {"slug": "std", "name": "Standard", "owner_team": "nope"})
    assert _messages(response) == ["No team nope."]
    assert not PipelineTemplate.objects.exists()


def test_a_proposed_version_without_a_change_offers_no_approve_button_that_can_only_fail(manager, release_manager,
                                                                                       make_change):
    from apps.releases import templates_services as templates

    template = templates.template_create(slug="std", name="Standard", actor=release_manager)
    templates.template_version_propose(template=template, version="1", actor=release_manager)  # the API allows it
    templates.template_version_propose(template=template, version="2", actor=release_manager,
                                       change=make_change(state="in_review"))
    html = manager.get("/releases/templates/").content.decode()
    assert "/releases/templates/std/versions/1/approve/" not in html
    assert "No governing change: propose a new version with one to approve it." in html
    assert "/releases/templates/std/versions/2/approve/" in html
    assert re.search(r'id="chg-std"[^>]*required', html)
