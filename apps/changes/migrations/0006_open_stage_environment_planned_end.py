from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_changes(apps, schema_editor):
    OpenStage = apps.get_model("changes", "OpenStage")
    ChangeRequest = apps.get_model("changes", "ChangeRequest")
    change = ChangeRequest.objects.filter(pk=OuterRef("change_id"))
    OpenStage.objects.update(environment_id=Subquery(change.values("environment_id")[:1]),
                             planned_end=Subquery(change.values("planned_end")[:1]))


class Migration(migrations.Migration):
    """The queue shows only what a person can decide now: that needs the open stage's environment
    (production needs the approver privilege) and planned end (freezes cover a slot), read from
    the open stage like the rest of the queue, never by joining every change."""

    dependencies = [
        ('catalog', '0002_service_object_permissions'),
        ('changes', '0005_open_stage_service_risk_planned_start'),
    ]

    operations = [
        migrations.AddField(
            model_name='openstage',
            name='environment',
            field=models.ForeignKey(db_index=False, null=True, on_delete=models.deletion.CASCADE, related_name='+',
                                    to='catalog.environment'),
        ),
        migrations.AddField(
            model_name='openstage',
            name='planned_end',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_from_changes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='openstage',
            name='environment',
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name='+',
                                    to='catalog.environment'),
        ),
    ]
