"""The CAB queue ("waiting for me"): never my own changes, never one I already decided, counts that
agree with the list, pages, delegated-only, and a fixed number of queries at any size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.changes.models import OpenStage
from apps.changes.selectors import cab_queue_for
from apps.changes.services import approval_record, change_update, delegation_create


@pytest.fixture
def quorum_type(make_type):
    return make_type("quorum2", [{"name": "Approvers", "group": "approver", "rule": "quorum", "quorum": 2}])


def numbers(queue) -> list[str]:
    return [c.number for c in queue]


def test_the_requester_never_sees_their_own_change(simple_type, make_change, approver, person):
    paula = person("paula", roles=("approver",))
    mine = make_change(simple_type, submit=True, actor=paula)
    queue, counts = cab_queue_for(paula)
    assert numbers(queue) == [] and counts["total"] == 0
    queue, counts = cab_queue_for(approver)
    assert numbers(queue) == [mine.number] and counts["total"] == 1


def test_a_new_implementer_leaves_the_queue_and_the_old_one_enters_it(simple_type, make_change, approver, person,
                                                                       requester):
    vera = person("vera", roles=("approver",))
    change = make_change(simple_type, submit=True, implementer=approver)
    assert numbers(cab_queue_for(approver)[0]) == [] and cab_queue_for(approver)[1]["total"] == 0
    assert numbers(cab_queue_for(vera)[0]) == [change.number]

    change_update(change=change, actor=requester, implementer=vera)

    assert OpenStage.objects.get(change=change).implementer_id == vera.pk
    queue, counts = cab_queue_for(vera)
    assert numbers(queue) == [] and counts["total"] == 0
    queue, counts = cab_queue_for(approver)
    assert numbers(queue) == [change.number] and counts["total"] == 1


def copies(change) -> tuple:
    change.refresh_from_db()
    return (change.requester_id, change.implementer_id, change.service_id, change.risk_level, change.planned_start)


def stage_copies(change) -> list[tuple]:
    return list(OpenStage.objects.filter(change=change).values_list(
        "requester_id", "implementer_id", "service_id", "risk_level", "planned_start"))


def test_open_stages_carry_what_the_queue_filters_on_and_edits_keep_it(simple_type, make_change, requester,
                                                                       implementer):
    from tests.factories import ServiceFactory

    change = make_change(simple_type, submit=True, implementer=implementer)
    assert stage_copies(change) == [copies(change)]
    other = ServiceFactory(slug="ledger", tier=1)
    change_update(change=change, actor=requester, service=other, risk_answers={"database_change": True},
                  planned_start=change.planned_start + timedelta(days=1),
                  planned_end=change.planned_end + timedelta(days=1))
    assert stage_copies(change) == [copies(change)] and copies(change)[2] == other.pk
    change_update(change=change, actor=requester, implementer=None, title="Renamed only")
    assert stage_copies(change) == [copies(change)] and copies(change)[1] is None


def test_rescheduling_moves_the_change_in_the_queue(simple_type, make_change, approver, requester):
    start = timezone.now() + timedelta(days=2)
    first = make_change(simple_type, submit=True, planned_start=start)
    second = make_change(simple_type, submit=True, planned_start=start + timedelta(hours=1))
    assert numbers(cab_queue_for(approver)[0]) == [first.number, second.number]
    change_update(change=first, actor=requester, planned_start=start + timedelta(hours=2),
                  planned_end=start + timedelta(hours=3))
    assert numbers(cab_queue_for(approver)[0]) == [second.number, first.number]


def test_filters_narrow_the_list_and_the_counts_alike(login, make_type, simple_type, make_change, approver,
                                                      other_team):
    from tests.factories import ServiceFactory

    other_type = make_type("other", [{"name": "Approval", "group": "approver"}])
    sso = ServiceFactory(slug="sso", owner_team=other_team)
    low = make_change(simple_type, submit=True, title="Low on payments")
    risky = make_change(simple_type, submit=True, title="Risky", risk_answers={
        "database_change": True, "customer_downtime": True, "rollback_untested": True})
    on_sso = make_change(simple_type, submit=True, service=sso)
    of_other_type = make_change(other_type, submit=True)
    for change in (low, risky):
        change.refresh_from_db()
    assert low.risk_level != risky.risk_level
    cases = {f"?risk={risky.risk_level}": [risky], "?service=sso": [on_sso], "?team=identity": [on_sso],
             "?change_type=other": [of_other_type], "": [low, risky, on_sso, of_other_type]}
    client = login(approver)
    for query, expected in cases.items():
        response = client.get(reverse("changes:queue") + query)
        assert sorted(c.number for c in response.context["page_obj"]) == sorted(c.number for c in expected), query
        assert response.context["counts"]["total"] == len(expected), query


def test_my_decision_takes_the_change_out_of_my_queue_while_the_stage_stays_open(quorum_type, make_change,
                                                                                  approver, person):
    vera = person("vera", roles=("approver",))
    change = make_change(quorum_type, submit=True)
    approval_record(change=change, approver=approver, decision="approve")
    assert OpenStage.objects.filter(change=change).exists()
    queue, counts = cab_queue_for(approver)
    assert numbers(queue) == [] and counts["total"] == 0
    assert numbers(cab_queue_for(vera)[0]) == [change.number]


def test_a_decision_made_by_my_delegate_takes_the_change_out_of_my_queue(make_type, make_change, person):
    change_type = make_type("dba2", [{"name": "DBA", "group": "dba", "rule": "quorum", "quorum": 2}])
    dora = person("dora", roles=("dba",))
    person("dan", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    change = make_change(change_type, submit=True)
    assert numbers(cab_queue_for(dora)[0]) == [change.number]
    approval_record(change=change, approver=sam, decision="approve")
    assert OpenStage.objects.filter(change=change).exists()
    for who in (dora, sam):
        queue, counts = cab_queue_for(who)
        assert numbers(queue) == [] and counts["total"] == 0


def test_counts_agree_with_the_list_across_pages(login, simple_type, make_change, approver):
    start = timezone.now() + timedelta(days=2)
    changes = [make_change(simple_type, submit=True, title=f"Change {i}", planned_start=start + timedelta(hours=i))
               for i in range(53)]
    late = changes[:3]
    OpenStage.objects.filter(change__in=late).update(due_at=timezone.now() - timedelta(minutes=5))
    client = login(approver)
    first = client.get(reverse("changes:queue"))
    second = client.get(reverse("changes:queue") + "?page=2")
    shown = [c.number for c in first.context["page_obj"]] + [c.number for c in second.context["page_obj"]]
    assert shown == [c.number for c in changes]  # planned-start order, nothing twice, nothing missing
    assert first.context["counts"] == {"total": 53, "own": 53, "delegated": 0, "overdue": 3}
    assert first.context["page_obj"].paginator.num_pages == 2
    overdue_rows = [c.number for c in first.context["page_obj"] if c.is_overdue]
    assert overdue_rows == [c.number for c in late]
    assert first.content.decode().count('<span class="badge badge-bad">overdue</span>') == 3


def test_delegated_only_shows_what_i_decide_for_someone_else(login, make_type, simple_type, make_change, person):
    dba_type = make_type("dbaonly", [{"name": "DBA", "group": "dba"}])
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    own = make_change(simple_type, submit=True, title="Mine to decide")
    for_dora = make_change(dba_type, submit=True, title="Dora's to decide")
    client = login(sam)

    response = client.get(reverse("changes:queue"))
    assert response.context["counts"] == {"total": 2, "own": 1, "delegated": 1, "overdue": 0}
    rows = {c.number: c.for_me for c in response.context["page_obj"]}
    assert rows == {own.number: True, for_dora.number: False}

    response = client.get(reverse("changes:queue") + "?delegated=1")
    assert [c.number for c in response.context["page_obj"]] == [for_dora.number]
    assert response.context["counts"]["total"] == 1
    body = response.content.decode()
    assert "Dora&#x27;s to decide" in body and "Mine to decide" not in body and "delegated</span>" in body


def test_the_queue_costs_the_same_queries_for_one_change_or_a_page_of_them(login, make_type, simple_type,
                                                                            make_change, person,
                                                                            django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dba_type = make_type("dbaonly", [{"name": "DBA", "group": "dba"}])
    dora = person("dora", roles=("dba",))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    make_change(simple_type, submit=True)
    client = login(sam)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("changes:queue")).status_code == 200
    for i in range(30):
        make_change(simple_type if i % 2 else dba_type, submit=True)
    with django_assert_max_num_queries(15), CaptureQueriesContext(connection) as many:
        response = client.get(reverse("changes:queue"))
    assert response.context["counts"]["total"] == 31
    assert len(many.captured_queries) == len(one.captured_queries)


def test_queue_rows_link_to_the_change_and_its_decision(login, simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    body = login(approver).get(reverse("changes:queue")).content.decode()
    assert f'href="{reverse("changes:detail", args=[change.number])}"' in body
    assert f'hx-post="{reverse("changes:decide", args=[change.number])}"' in body


@pytest.mark.parametrize("number", ["CHG-000007", "odd number+é"])
def test_change_url_gives_what_reverse_gives_under_any_script_prefix(number):
    from django.urls import get_script_prefix, set_script_prefix

    from apps.changes.templatetags.change_tags import change_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/portal/"):
            set_script_prefix(prefix)
            for action in ("detail", "decide"):
                assert change_url(number, action) == reverse(f"changes:{action}", args=[number])
        assert change_url(number).startswith("/portal/changes/")
    finally:
        set_script_prefix(before)


@pytest.mark.parametrize("filters", [{}, {"service": "payments-api", "team": "payments", "change_type": "simple",
                                          "risk": "low"}, {"delegated_only": True}])
def test_only_the_pages_rows_are_read_from_the_change_table(simple_type, make_change, approver, filters):
    """Counts, filters and the page's ids come from the open stages; the change table is read once,
    for the rows of the page, by id."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    change = make_change(simple_type, submit=True)
    with CaptureQueriesContext(connection) as ctx:
        queue, _ = cab_queue_for(approver, **filters)
        page = queue[0:50]
    expected = [] if filters.get("delegated_only") else [change.number]
    assert [c.number for c in page] == expected
    reads = [q["sql"] for q in ctx.captured_queries if "changes_changerequest" in q["sql"]]
    assert len(reads) == len(expected)
    assert all('WHERE "changes_changerequest"."id" IN (' in sql for sql in reads)


# --- only what I can decide now; the rest explained ----------------------------------------------

@pytest.fixture
def undecidable(seeded_types, make_type, simple_type, quorum_type, make_change, approver, person, environments,
                service, requester):
    """For adam (approver): one change he can decide, and one of each kind he cannot decide now."""
    from guardian.shortcuts import assign_perm

    from apps.changes.models import Freeze

    start = timezone.now() + timedelta(days=3)
    later = make_type("later", [{"name": "Security", "group": "security"}, {"name": "Approval", "group": "approver"}])
    hedy = person("hedy", roles=("approver",))
    changes = {
        "decidable": make_change(simple_type, submit=True, title="Decidable", planned_start=start),
        "segregation_of_duties": make_change(simple_type, submit=True, title="Mine", actor=approver,
                                             planned_start=start + timedelta(hours=1)),
        "already_decided": make_change(quorum_type, submit=True, title="Decided",
                                       planned_start=start + timedelta(hours=2)),
        "privilege_required": make_change(simple_type, submit=True, title="Production", environment=environments["prod"],
                                          planned_start=start + timedelta(hours=3)),
        "freeze_active": make_change(simple_type, submit=True, title="Frozen", planned_start=start + timedelta(days=10)),
        "stage_not_open": make_change(later, submit=True, title="Later", planned_start=start + timedelta(hours=4)),
    }
    approval_record(change=changes["already_decided"], approver=approver, decision="approve")
    assign_perm("catalog.approve_service_changes", hedy, service)  # hedy may decide production; adam may not
    Freeze.objects.create(name="Year end", reason="Closing the books", starts_at=start + timedelta(days=9),
                          ends_at=start + timedelta(days=12))
    return changes


def test_the_queue_lists_only_what_i_can_decide_now_and_explains_the_rest(login, undecidable, approver):
    queue, counts = cab_queue_for(approver)
    assert numbers(queue) == [undecidable["decidable"].number] and counts["total"] == 1
    response = login(approver).get(reverse("changes:queue"))
    assert [c.number for c in response.context["page_obj"]] == [undecidable["decidable"].number]
    reasons = {row["change__number"]: row["reason"] for row in response.context["blocked"]["rows"]}
    assert reasons == {change.number: reason for reason, change in undecidable.items() if reason != "decidable"}
    assert response.context["blocked"]["total"] == 4  # stage-not-open changes are listed after the count
    body = response.content.decode()
    for reason, change in undecidable.items():
        decide = f'hx-post="{reverse("changes:decide", args=[change.number])}"'
        assert (decide in body) == (reason == "decidable"), reason
    for words in ("You requested this change", "You have already decided", "do not hold the approver privilege",
                  "Freeze “Year end”", "Your stage is not open yet"):
        assert words in body, words


def test_each_explanation_matches_the_refusal_a_decision_would_get(undecidable, approver):
    """What the queue says is what the service does: every explained change refuses adam's approval."""
    from releaseportal.errors import PortalError

    codes = {"segregation_of_duties": "self_approval_forbidden", "already_decided": "already_decided",
             "privilege_required": "approver_privilege_required", "freeze_active": "freeze_active",
             "stage_not_open": "stage_not_open"}
    for reason, change in undecidable.items():
        if reason == "decidable":
            continue
        with pytest.raises(PortalError) as exc:
            approval_record(change=change, approver=approver, decision="approve")
        assert exc.value.code == codes[reason], reason
    approval_record(change=undecidable["decidable"], approver=approver, decision="approve")


def test_others_still_see_what_adam_cannot_decide(undecidable, person):
    hedy = type(person("x")).objects.get(username="hedy")
    shown = numbers(cab_queue_for(hedy)[0])
    for reason in ("segregation_of_duties", "already_decided", "privilege_required", "decidable"):
        assert undecidable[reason].number in shown, reason
    assert undecidable["freeze_active"].number not in shown  # frozen for everyone


def test_the_override_authoriser_sees_the_retrospective_stage_explained(seeded_types, make_change, person, login):
    from apps.changes.services import emergency_override_grant

    hedy = person("hedy", roles=("release_manager", "cab_member"))
    change = make_change(seeded_types["emergency"], submit=True, title="Hotfix")
    emergency_override_grant(change=change, actor=hedy, reason="Payments are down")
    assert numbers(cab_queue_for(hedy)[0]) == []
    rows = login(hedy).get(reverse("changes:queue")).context["blocked"]["rows"]
    assert [(r["change__number"], r["reason"]) for r in rows] == [(change.number, "segregation_of_duties")]
    assert "authorised the emergency override" in rows[0]["explanation"]
    assert numbers(cab_queue_for(person("cato", roles=("cab_member",)))[0]) == [change.number]


def test_a_delegate_sees_changes_of_a_delegator_who_cannot_decide_explained(make_type, make_change, person, login):
    dba_type = make_type("dbaonly", [{"name": "DBA", "group": "dba"}])
    dora = person("dora", roles=("dba", "requester"))
    sam = person("sam", roles=("approver",))
    delegation_create(delegator=dora, delegate=sam, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    doras_own = make_change(dba_type, submit=True, actor=dora)
    assert numbers(cab_queue_for(sam)[0]) == []
    rows = login(sam).get(reverse("changes:queue")).context["blocked"]["rows"]
    assert [(r["change__number"], r["reason"]) for r in rows] == [(doras_own.number, "delegate_cannot")]


def test_the_queue_costs_the_same_queries_with_explanations(login, undecidable, approver, simple_type, make_change,
                                                           make_type, person, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dora = person("dora", roles=("dba",))
    delegation_create(delegator=dora, delegate=approver, ends_at=timezone.now() + timedelta(days=3), actor=dora)
    client = login(approver)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("changes:queue")).status_code == 200
    dba_type = make_type("dbaonly", [{"name": "DBA", "group": "dba"}])
    for i in range(12):
        make_change(simple_type if i % 2 else dba_type, submit=True)
        make_change(simple_type, submit=True, actor=approver)  # explained: his own
    with django_assert_max_num_queries(15), CaptureQueriesContext(connection) as many:
        response = client.get(reverse("changes:queue"))
    assert response.context["counts"]["total"] == 13
    assert response.context["blocked"]["total"] == 16
    assert len(many.captured_queries) == len(one.captured_queries)


def test_the_change_page_offers_no_approve_button_under_a_freeze(login, undecidable, person):
    hedy = type(person("x")).objects.get(username="hedy")
    frozen = undecidable["freeze_active"]
    response = login(hedy).get(reverse("changes:detail", args=[frozen.number]))
    body = response.content.decode()
    assert 'value="approve"' not in body and 'value="reject"' in body and "Year end" in body
    body = login(hedy).get(reverse("changes:detail", args=[undecidable["decidable"].number])).content.decode()
    assert 'value="approve"' in body
