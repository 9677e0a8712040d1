"""The standard incident classification taxonomy; managed in the admin afterwards."""

from django.db import migrations

TAXONOMY = [
    ("code-defect", "Code defect", True),
    ("configuration-error", "Configuration error", True),
    ("schema-migration", "Schema migration", True),
    ("dependency", "Dependency", True),
    ("capacity", "Capacity", False),
    ("infrastructure", "Infrastructure", False),
    ("third-party", "Third party", False),
    ("security", "Security", False),
    ("data-quality", "Data quality", False),
]


def seed(apps, schema_editor):
    Classification = apps.get_model("incidents", "IncidentClassification")
    for slug, name, release_related in TAXONOMY:
        Classification.objects.get_or_create(slug=slug, defaults={"name": name, "is_release_related": release_related})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_timeline_evidence_rollbacks_runbooks_reviews")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
