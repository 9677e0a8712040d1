from django.db import migrations

TEXT = {
    "": "Default: 7 years. Never purged record by record (the hash chain needs every link); the oldest "
        "events go only as a prefix of the chain, behind a checkpoint.",
    "sox": "SOX: 7 years. Never purged record by record (the hash chain needs every link); the oldest "
           "events go only as a prefix of the chain, behind a checkpoint.",
    "hipaa": "HIPAA: 6 years. Never purged record by record (the hash chain needs every link); the oldest "
             "events go only as a prefix of the chain, behind a checkpoint.",
}


def describe(apps, schema_editor):
    RetentionPolicy = apps.get_model("audit", "RetentionPolicy")
    for scope, text in TEXT.items():
        RetentionPolicy.objects.filter(record_class="audit_event", compliance_scope=scope).update(description=text)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_details_canonical_json")]
    operations = [migrations.RunPython(describe, migrations.RunPython.noop)]
