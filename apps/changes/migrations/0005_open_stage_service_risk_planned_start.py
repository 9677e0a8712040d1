from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_from_changes(apps, schema_editor):
    OpenStage = apps.get_model("changes", "OpenStage")
    ChangeRequest = apps.get_model("changes", "ChangeRequest")
    change = ChangeRequest.objects.filter(pk=OuterRef("change_id"))
    OpenStage.objects.update(service_id=Subquery(change.values("service_id")[:1]),
                             risk_level=Subquery(change.values("risk_level")[:1]),
                             planned_start=Subquery(change.values("planned_start")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_service_object_permissions'),
        ('changes', '0004_open_stage_sod_columns_and_live_approval_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='openstage',
            name='service',
            field=models.ForeignKey(db_index=False, null=True, on_delete=models.deletion.CASCADE, related_name='+',
                                    to='catalog.service'),
        ),
        migrations.AddField(
            model_name='openstage',
            name='risk_level',
            field=models.CharField(blank=True, default='', max_length=10),
        ),
        migrations.AddField(
            model_name='openstage',
            name='planned_start',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(copy_from_changes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='openstage',
            name='service',
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name='+',
                                    to='catalog.service'),
        ),
        migrations.AddIndex(
            model_name='openstage',
            index=models.Index(fields=['planned_start', 'change'], name='open_stage_planned_idx'),
        ),
    ]
