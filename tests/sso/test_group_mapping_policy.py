"""The group mapping kept as policy: exported and imported as YAML like the change types
(manage.py sso_mapping_export / sso_mapping_import FILE [--dry-run]), refused whole with the line
and reason when invalid, every applied change in history and the audit log."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEvent
from apps.sso.models import GroupMapping
from apps.sso.services import group_mapping_add

pytestmark = pytest.mark.django_db

POLICY = """version: 1
group_mappings:
  - group: rp-approvers
    roles: [approver, cab_member]
    teams: [payments]
  - group: rp-auditors
    roles: [auditor]
"""


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _pairs():
    return sorted((m.group, m.role or f"team:{m.team.slug}") for m in GroupMapping.objects.select_related("team"))


def test_an_import_applies_the_file_with_history_and_one_audit_event(tmp_path, team):
    path = tmp_path / "mapping.yaml"
    path.write_text(POLICY)

    output = _run("sso_mapping_import", str(path))

    assert "+ rp-approvers → role cab_member" in output and "Applied 4 change(s)." in output
    assert _pairs() == [("rp-approvers", "approver"), ("rp-approvers", "cab_member"),
                        ("rp-approvers", "team:payments"), ("rp-auditors", "auditor")]
    event = AuditEvent.objects.get(action="sso.group_mapping_imported")
    assert event.actor_label == "command:sso_mapping_import" and len(event.details["diff"]) == 4
    mapping = GroupMapping.objects.get(group="rp-auditors")
    assert mapping.history.get().history_actor_label == "command:sso_mapping_import"


def test_an_import_removes_what_a_listed_group_no_longer_confers_and_leaves_unlisted_groups(
        tmp_path, team, superuser):
    group_mapping_add(group="rp-approvers", role="release_manager", actor=superuser)
    group_mapping_add(group="rp-legacy", role="executive", actor=superuser)
    removed = GroupMapping.objects.get(role="release_manager")
    path = tmp_path / "mapping.yaml"
    path.write_text(POLICY)

    output = _run("sso_mapping_import", str(path))

    assert "- rp-approvers → role release_manager" in output
    assert "= group rp-legacy is not in the file: left as it is" in output
    assert ("rp-approvers", "release_manager") not in _pairs() and ("rp-legacy", "executive") in _pairs()
    deleted = removed.history.model.objects.filter(id=removed.pk, history_type="-").get()
    assert deleted.history_actor_label == "command:sso_mapping_import"


def test_export_then_import_is_no_change(tmp_path, team, superuser):
    group_mapping_add(group="rp-approvers", role="approver", actor=superuser)
    group_mapping_add(group="rp-approvers", team=team, actor=superuser)
    exported = _run("sso_mapping_export")
    assert "roles:\n  - approver" in exported and "teams:\n  - payments" in exported
    path = tmp_path / "mapping.yaml"
    path.write_text(exported)
    before = AuditEvent.objects.count()

    assert "No changes." in _run("sso_mapping_import", str(path))
    assert AuditEvent.objects.count() == before


def test_a_dry_run_changes_nothing(tmp_path, team):
    path = tmp_path / "mapping.yaml"
    path.write_text(POLICY)
    assert "Dry run: 4 change(s) not applied." in _run("sso_mapping_import", str(path), "--dry-run")
    assert not GroupMapping.objects.exists()


@pytest.mark.parametrize(("text", "reason"), [
    ("version: 1\ngroup_mappings:\n  - group: g\n    roles: [wizard]\n", "line 3: group 'g': unknown role(s) wizard"),
    ("version: 1\ngroup_mappings:\n  - group: g\n    teams: [nowhere]\n", "line 3: group 'g': unknown team(s) nowhere"),
    ("version: 1\ngroup_mappings:\n  - group: g\n  - group: g\n", "line 4: group 'g' appears twice"),
    ("version: 2\ngroup_mappings: []\n", "version must be 1"),
    ("version: 1\ngroup_mappings:\n  - group: g\n    role: approver\n", "line 3: unknown key(s) role"),
])
def test_an_invalid_file_is_refused_whole_naming_the_line(tmp_path, team, text, reason):
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        _run("sso_mapping_import", str(path))
    assert not GroupMapping.objects.exists()


def test_a_mapping_row_confers_a_role_or_a_team_never_both(team, superuser):
    from releaseportal.errors import InvalidInput

    with pytest.raises(InvalidInput, match="either a role or a team"):
        group_mapping_add(group="g", role="approver", team=team, actor=superuser)
    with pytest.raises(InvalidInput, match="Unknown role"):
        group_mapping_add(group="g", role="wizard", actor=superuser)
    assert not GroupMapping.objects.exists()
