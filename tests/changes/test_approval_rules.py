"""Stages open in order; any / all / quorum N decide when a stage is satisfied; a rejection in a
mandatory stage rejects the change."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.changes.services import approval_record
from apps.changes.workflow import evaluate
from releaseportal.errors import Conflict


def _approve(change, who, decision="approve", comment="ok"):
    return approval_record(change=change, approver=who, decision=decision, comment=comment)


def test_any_rule_needs_one_approval(simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    _approve(change, approver)
    change.refresh_from_db()
    assert change.state == "approved"
    assert change.approved_at is not None


def test_quorum_rule_needs_n_distinct_approvals(make_type, make_change, person, team):
    change_type = make_type("q", [{"name": "Board", "group": "approver", "rule": "quorum", "quorum": 3}])
    change = make_change(change_type, submit=True)
    a, b, c = (person(n) for n in ("a1", "a2", "a3"))
    _approve(change, a)
    _approve(change, b)
    change.refresh_from_db()
    assert change.state == "in_review"
    assert evaluate(change).stages[0].still_needed == 1
    _approve(change, c)
    change.refresh_from_db()
    assert change.state == "approved"


def test_all_rule_needs_every_eligible_person(make_type, make_change, person, approver):
    change_type = make_type("every", [{"name": "Everyone", "group": "dba", "rule": "all"}])
    d1, d2 = person("d1", roles=("dba",)), person("d2", roles=("dba",))
    change = make_change(change_type, submit=True)
    assert evaluate(change).stages[0].required == 2
    _approve(change, d1)
    change.refresh_from_db()
    assert change.state == "in_review"
    _approve(change, d2)
    change.refresh_from_db()
    assert change.state == "approved"


def test_all_rule_does_not_count_the_requester_or_implementer(make_type, make_change, person, team, implementer):
    change_type = make_type("team-all", [{"name": "Team", "team": True, "rule": "all"}])
    p1, p2 = person("pia", roles=(), team=team), person("pete", roles=(), team=team)
    change = make_change(change_type, submit=True, implementer=implementer)
    assert evaluate(change).stages[0].required == 2  # rita requested, ivan implements: pia and pete remain
    _approve(change, p1)
    _approve(change, p2)
    change.refresh_from_db()
    assert change.state == "approved"


def test_stages_open_in_order(make_type, make_change):
    change_type = make_type("ordered", [{"name": "Tech", "group": "approver"}, {"name": "CAB", "group": "cab_member"}])
    change = make_change(change_type, submit=True)
    assert [s.status for s in evaluate(change).stages] == ["open", "waiting"]


def test_a_later_stage_cannot_decide_before_earlier_ones(make_type, make_change, person, approver):
    change_type = make_type("ordered2", [{"name": "Tech", "group": "approver"}, {"name": "DBA", "group": "dba"}])
    dba = person("dora", roles=("dba",))
    change = make_change(change_type, submit=True)
    with pytest.raises(Conflict) as exc:
        _approve(change, dba)
    assert exc.value.code == "stage_not_open"
    _approve(change, approver)
    assert [s.status for s in evaluate(change).stages] == ["approved", "open"]
    _approve(change, dba)
    change.refresh_from_db()
    assert change.state == "approved"


def test_a_rejection_in_a_mandatory_stage_rejects_the_change(make_type, make_change, approver):
    change_type = make_type("rej", [{"name": "Tech", "group": "approver", "rule": "quorum", "quorum": 2}])
    change = make_change(change_type, submit=True)
    _approve(change, approver, "reject", "Rollback plan is missing a step")
    change.refresh_from_db()
    assert change.state == "rejected"
    assert change.open_stages.count() == 0


def test_a_rejection_needs_a_comment(simple_type, make_change, approver):
    from releaseportal.errors import InvalidInput

    change = make_change(simple_type, submit=True)
    with pytest.raises(InvalidInput):
        _approve(change, approver, "reject", "")


def test_an_optional_stage_neither_blocks_nor_rejects(make_type, make_change, approver, person):
    change_type = make_type("opt", [{"name": "Advice", "group": "dba", "mandatory": False},
                                    {"name": "Tech", "group": "approver"}])
    dba = person("dora", roles=("dba",))
    change = make_change(change_type, submit=True)
    _approve(change, dba, "reject", "I would not")
    change.refresh_from_db()
    assert change.state == "in_review"
    _approve(change, approver)
    change.refresh_from_db()
    assert change.state == "approved"


def test_database_changes_add_the_dba_stage_and_high_risk_adds_cab(seeded_types, make_change):
    normal = seeded_types["normal"]
    plain = make_change(normal)
    assert [s.stage.name for s in evaluate(plain).stages] == ["Technical review", "Security"]
    risky = make_change(normal, risk_answers={"database_change": True, "customer_downtime": True,
                                              "rollback_untested": True, "security_controls": True})
    assert risky.risk_level in ("high", "critical")
    assert risky.cab_required
    assert [s.stage.name for s in evaluate(risky).stages] == ["Technical review", "Security", "DBA sign-off", "CAB"]


def test_the_transition_to_approved_is_audited_once(simple_type, make_change, approver):
    change = make_change(simple_type, submit=True)
    _approve(change, approver)
    assert AuditEvent.objects.filter(action="change.approved", object_id=str(change.pk)).count() == 1


def test_risk_score_is_documented(seeded_types, make_change):
    change = make_change(seeded_types["normal"], risk_answers={"database_change": True})
    factors = {item["factor"]: item["points"] for item in change.risk_breakdown}
    assert factors["database_change"] == 15
    assert factors["service_tier"] == 20  # payments-api is tier 1
    assert "team_failure_rate" in factors
    assert change.risk_score == sum(factors.values())
