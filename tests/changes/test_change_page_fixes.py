"""The change page reads in words: rollback criteria with units, a draft's stages "not yet open",
only people who may implement offered as implementer, conflicting changes linked, evidence label
and value apart, history as who did what when; and the "My changes" tabs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes.forms import ChangeForm
from apps.changes.history_text import change_history
from apps.changes.services import change_submit, change_update
from apps.changes.templatetags.change_tags import rollback_criteria


@pytest.fixture(autouse=True)
def _december(clock):
    clock("2026-12-03 17:24")


def page(client, change):
    return client.get(reverse("changes:detail", args=[change.number])).content.decode()


def test_rollback_criteria_read_as_labels_with_units():
    assert rollback_criteria({"window_minutes": 5, "error_rate_pct": 2.0, "p95_latency_ms": 800}) == [
        "Error rate above 2.0 %", "p95 latency above 800 ms", "Sustained for 5 min"]


def test_the_change_page_shows_rollback_criteria_in_words(login, requester, make_change, simple_type):
    change = make_change(simple_type, rollback_criteria={"error_rate_pct": 2.0})
    body = page(login(requester), change)
    assert "Error rate above 2.0 %" in body and "error_rate_pct" not in body


def test_a_drafts_stages_are_not_yet_open(login, requester, make_change, simple_type):
    draft = make_change(simple_type)
    body = page(login(requester), draft)
    assert "not yet open" in body and "more needed" not in body
    submitted = change_submit(change=draft, actor=requester)
    body = page(login(requester), submitted)
    assert "1 more needed" in body and "not yet open" not in body


def test_the_implementer_list_offers_only_team_members_who_may_implement(
        roles_ready, team, service, environments, requester, implementer, approver, auditor, executive, superuser):
    from guardian.shortcuts import assign_perm

    from apps.accounts.models import TeamMembership

    for account in (auditor, executive, superuser):  # on the team, and still never an implementer
        TeamMembership.objects.get_or_create(team=team, user=account)
    offered = set(ChangeForm().fields["implementer"].queryset.values_list("username", flat=True))
    assert {"rita", "ivan"} <= offered
    assert not offered & {auditor.username, executive.username, superuser.username}
    from apps.change_types.models import ChangeType
    from apps.changes.services import change_create

    change_type = ChangeType.objects.create(slug="t", name="T")
    prod = change_create(actor=requester, title="Prod", change_type=change_type, service=service,
                         environment=environments["prod"])
    form = ChangeForm(editing=True, change=prod)
    assert list(form.fields["implementer"].queryset) == []  # nobody holds the deployer privilege yet
    assign_perm("catalog.deploy_service", implementer, service)
    form = ChangeForm(editing=True, change=prod)
    assert [u.username for u in form.fields["implementer"].queryset] == ["ivan"]
    # A posted account outside the list is refused by the form, naming the field.
    bad = ChangeForm({"implementer": auditor.username}, editing=True, change=prod)
    assert not bad.is_valid() and "implementer" in bad.errors


def test_conflicting_changes_link_to_each_other(login, requester, make_change, simple_type):
    start = timezone.now() + timedelta(days=2)
    first = make_change(simple_type, submit=True, planned_start=start)
    second = make_change(simple_type, submit=True, planned_start=start + timedelta(minutes=30))
    body = page(login(requester), second)
    assert f'<a class="mono" href="{reverse("changes:detail", args=[first.number])}">{first.number}</a>' in body


def test_evidence_labels_and_values_are_separate_elements():
    from django.template.loader import render_to_string

    html = render_to_string("delivery/_artifact_evidence.html",
                            {"overview": {"tests": {"passed": 473, "tests": 473, "failures": 0, "errors": 0}}})
    assert '<div class="label">Tests</div> <div><strong>473/473</strong></div>' in html
    assert "Tests473" not in html.replace("\n", "")


def test_history_says_who_did_what_when_in_words(login, requester, make_change, simple_type):
    requester.first_name, requester.last_name = "Priya", "Raman"
    requester.save()
    change = make_change(simple_type, submit=False)
    change_update(change=change, actor=requester, planned_start=change.planned_start + timedelta(days=1),
                  planned_end=change.planned_end + timedelta(days=1))
    change_submit(change=change, actor=requester)
    entries = change_history(change)
    summaries = [f"{e['who']} {e['summary']}" for e in entries]
    assert summaries == ["Priya Raman submitted the change for review", "Priya Raman edited the change",
                         "Priya Raman created the change"]
    assert entries[1]["lines"][0].startswith("Planned start changed from 6 Dec 2026, 17:24 UTC to 7 Dec 2026")
    body = page(login(requester), change)
    assert "Priya Raman</strong> submitted the change for review · " in body and "3 Dec 2026, 17:2" in body
    assert "submitted_at" not in body and "⊖" not in body


def test_history_hides_saves_that_changed_nothing_and_names_commands(make_change, simple_type, requester):
    from apps.audit.actor import Actor, acting_as

    change = make_change(simple_type)
    with acting_as(Actor.for_command("seed_demo")):
        change.save()  # a no-diff row, as the demo seed leaves
    entries = change_history(change)
    assert len(entries) == 1 and entries[0]["summary"] == "created the change"


def test_my_changes_tabs_list_what_i_requested_implement_or_must_approve(
        login, requester, implementer, approver, make_change, simple_type, person):
    other = person("olaf", roles=("requester",))
    mine = make_change(simple_type, submit=True, title="Rita's")
    implementing = make_change(simple_type, submit=True, title="Olaf's", actor=other, implementer=requester)
    unrelated = make_change(simple_type, title="Olaf's draft", actor=other)
    client = login(requester)

    def listed(tab):
        response = client.get(reverse("changes:mine"), {"mine": tab} if tab else {})
        return {c.number for c in response.context["page_obj"]}

    assert listed("requested") == {mine.number}
    assert listed("implementing") == {implementing.number}
    assert listed(None) == {mine.number, implementing.number}
    assert unrelated.number not in listed(None)
    approving = {c.number for c in login(approver).get(reverse("changes:mine"), {"mine": "approving"})
                 .context["page_obj"]}
    assert approving == {mine.number, implementing.number}
    body = client.get(reverse("changes:list")).content.decode()
    assert f'href="{reverse("changes:mine")}?mine=requested"' in body


def test_my_changes_is_in_the_navigation(login, requester):
    body = login(requester).get(reverse("changes:list")).content.decode()
    assert f'href="{reverse("changes:mine")}"' in body and "My changes" in body


def test_my_changes_refuses_outsiders_and_sends_anonymous_to_sign_in(client, login, outsider):
    anonymous = client.get(reverse("changes:mine"))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert login(outsider).get(reverse("changes:mine")).status_code == 403


def test_the_change_page_costs_a_fixed_number_of_queries_with_a_long_history(
        login, requester, make_change, simple_type, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    change = make_change(simple_type, submit=True)
    client = login(requester)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("changes:detail", args=[change.number]))
    for i in range(12):
        change_update(change=change, actor=requester, title=f"Title {i}",
                      planned_start=change.planned_start + timedelta(hours=i + 1),
                      planned_end=change.planned_end + timedelta(hours=i + 1))
    with django_assert_max_num_queries(len(one.captured_queries) + 2):
        response = client.get(reverse("changes:detail", args=[change.number]))
    assert len(response.context["history"]) >= 13


def test_the_home_page_has_my_changes(login, requester, make_change, simple_type):
    change = make_change(simple_type, title="Rita's open change")
    body = login(requester).get(reverse("home")).content.decode()
    assert 'id="my-changes"' in body and change.number in body
    assert f'href="{reverse("changes:mine")}"' in body
