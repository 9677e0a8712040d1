"""Seed the four change types of the issue and the approver groups their stages name.

Kept self-contained (no app code), as data migrations must be; `seed_change_types(apps)` is
also called by tests after a transactional flush."""

from django.db import migrations

GROUPS = ["security", "dba"]

# slug: (name, description, flags, stages[(name, kind, group, rule, quorum, sla, mandatory, applies_when, is_cab)])
TYPES = {
    "standard": (
        "Standard", "Pre-approved, low-risk change filed from an approved standard change template.",
        {"is_pre_approved": True}, []),
    "normal": (
        "Normal", "Technical review by the owning team, security, DBA sign-off for database changes, CAB from high risk up.",
        {"cab_required": "from_risk", "cab_from_risk": "high"},
        [("Technical review", "owning_team", "", "any", 1, 24, True, "always", False),
         ("Security", "group", "security", "any", 1, 48, True, "always", False),
         ("DBA sign-off", "group", "dba", "any", 1, 48, True, "database_change", False),
         ("CAB", "group", "cab_member", "quorum", 2, 72, True, "cab", True)]),
    "emergency": (
        "Emergency", "Implemented on a release manager's time-bound override; retrospective CAB approval before it expires.",
        {"is_emergency": True, "cab_required": "always", "override_hours": 24, "post_mortem_days": 5},
        [("Retrospective CAB", "group", "cab_member", "any", 1, 24, True, "cab", True)]),
    "configuration": (
        "Configuration", "Configuration change; peer review by another engineer even when a pipeline applies it.",
        {"requires_peer_review": True},
        [("Peer review", "owning_team", "", "any", 1, 8, True, "always", False)]),
}


def seed_change_types(apps, schema_editor=None):
    Group = apps.get_model("auth", "Group")
    ChangeType = apps.get_model("change_types", "ChangeType")
    ApprovalStage = apps.get_model("change_types", "ApprovalStage")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)
    for slug, (name, description, flags, stages) in TYPES.items():
        change_type, created = ChangeType.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, **flags})
        if not created:
            continue
        for order, (sname, kind, group, rule, quorum, sla, mandatory, applies, is_cab) in enumerate(stages, start=1):
            ApprovalStage.objects.create(change_type=change_type, order=order, name=sname, approver_kind=kind,
                                         approver_group=group, rule=rule, quorum=quorum, sla_hours=sla,
                                         mandatory=mandatory, applies_when=applies, is_cab=is_cab)


class Migration(migrations.Migration):
    dependencies = [
        ("change_types", "0002_workflow_stages_and_templates"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(seed_change_types, migrations.RunPython.noop)]
