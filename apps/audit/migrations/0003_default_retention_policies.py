from django.db import migrations

CLASSES = ["change_request", "deployment", "gate_decision", "incident", "access_review", "report",
           "evidence_document", "audit_event"]
COUNTED_FROM = {"change_request": "closure", "deployment": "closure", "incident": "closure",
                "access_review": "closure", "audit_event": "creation", "report": "creation",
                "gate_decision": "creation", "evidence_document": "last_in_effect"}


def seed_defaults(apps, schema_editor):
    RetentionPolicy = apps.get_model("audit", "RetentionPolicy")
    for record_class in CLASSES:
        for scope, years, text in (("", 7, "Default: SOX workpapers, 7 years"),
                                   ("sox", 7, "SOX: 7 years"),
                                   ("hipaa", 6, "HIPAA: 6 years from the date last in effect")):
            counted_from = "last_in_effect" if scope == "hipaa" and record_class != "audit_event" else COUNTED_FROM[record_class]
            RetentionPolicy.objects.get_or_create(
                record_class=record_class, compliance_scope=scope,
                defaults={"years": years, "counted_from": counted_from, "description": text},
            )


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_retention_holds_archives_packs")]
    operations = [migrations.RunPython(seed_defaults, migrations.RunPython.noop)]
