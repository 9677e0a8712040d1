"""Policy as code: export, import with a diff, --dry-run, refusal naming the line and the reason,
nothing half-applied."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import CommandError, call_command

from apps.change_types.models import ApprovalStage, ChangeType
from apps.change_types.policy import export_policy


def _write(tmp_path, text: str):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def _run(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_export_then_import_is_a_no_op(seeded_types, tmp_path):
    text = _run("policy_export")
    data = yaml.safe_load(text)
    assert {t["slug"] for t in data["change_types"]} >= {"standard", "normal", "emergency", "configuration"}
    normal = next(t for t in data["change_types"] if t["slug"] == "normal")
    assert [s["name"] for s in normal["stages"]] == ["Technical review", "Security", "DBA sign-off", "CAB"]
    assert "No changes." in _run("policy_import", _write(tmp_path, text))


def test_dry_run_shows_the_diff_and_changes_nothing(seeded_types, tmp_path):
    data = yaml.safe_load(export_policy())
    normal = next(t for t in data["change_types"] if t["slug"] == "normal")
    normal["cab_from_risk"] = "critical"
    normal["stages"][1]["rule"] = "quorum"
    normal["stages"][1]["quorum"] = 2
    data["change_types"].append({"slug": "database", "name": "Database", "stages": [
        {"name": "DBA", "approvers": {"group": "dba"}, "rule": "all"}]})
    path = _write(tmp_path, yaml.safe_dump(data))
    out = _run("policy_import", path, "--dry-run")
    assert "~ normal.cab_from_risk: 'high' → 'critical'" in out
    assert "~ normal stage 2 (Security) rule: 'any' → 'quorum'" in out
    assert "+ change type database (Database) with 1 stage(s)" in out
    assert "Dry run" in out
    assert ChangeType.objects.get(slug="normal").cab_from_risk == "high"
    assert not ChangeType.objects.filter(slug="database").exists()
    _run("policy_import", path)
    assert ChangeType.objects.get(slug="normal").cab_from_risk == "critical"
    assert ApprovalStage.objects.get(change_type__slug="normal", order=2).quorum == 2
    assert ChangeType.objects.get(slug="database").stages.get().rule == "all"


INVALID = """version: 1
change_types:
  - slug: normal
    name: Normal
    cab_required: from_risk
    cab_from_risk: high
    stages:
      - name: Technical review
        approvers: {owning_team: true}
        rule: most
"""


def test_an_invalid_file_is_refused_with_line_and_reason(seeded_types, tmp_path):
    with pytest.raises(CommandError) as exc:
        _run("policy_import", _write(tmp_path, INVALID))
    assert "line 8" in str(exc.value)
    assert "rule must be any, all or quorum" in str(exc.value)
    assert ChangeType.objects.get(slug="normal").stages.count() == 4


def test_a_file_that_fails_halfway_applies_nothing(seeded_types, tmp_path):
    data = yaml.safe_load(export_policy())
    data["change_types"][0]["name"] = "Renamed first"
    data["change_types"][-1]["cab_required"] = "sometimes"
    with pytest.raises(CommandError) as exc:
        _run("policy_import", _write(tmp_path, yaml.safe_dump(data)))
    assert "cab_required must be never, always or from_risk" in str(exc.value)
    assert not ChangeType.objects.filter(name="Renamed first").exists()


def test_broken_yaml_is_refused_with_its_line(seeded_types, tmp_path):
    with pytest.raises(CommandError) as exc:
        _run("policy_import", _write(tmp_path, "version: 1\nchange_types:\n  - slug: [unclosed\n"))
    assert "line" in str(exc.value) and "not valid YAML" in str(exc.value)


def test_removing_a_stage_with_decisions_is_refused(seeded_types, tmp_path, make_change_type_with_decision):
    data = yaml.safe_load(export_policy())
    simple = next(t for t in data["change_types"] if t["slug"] == "simple")
    simple["stages"] = []
    simple["pre_approved"] = True
    with pytest.raises(CommandError) as exc:
        _run("policy_import", _write(tmp_path, yaml.safe_dump(data)))
    assert "has recorded decisions" in str(exc.value)
    assert ChangeType.objects.get(slug="simple").stages.count() == 1


@pytest.fixture
def make_change_type_with_decision(make_type, requester, approver, service, environments):
    from apps.changes.services import approval_record, change_create, change_submit

    change_type = make_type("simple", [{"name": "Approval", "group": "approver"}])
    change = change_create(actor=requester, title="x", change_type=change_type, service=service,
                           environment=environments["dev"])
    change_submit(change=change, actor=requester)
    approval_record(change=change, approver=approver, decision="approve")
    return change_type
