from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_requester_and_implementer(apps, schema_editor):
    OpenStage = apps.get_model("changes", "OpenStage")
    ChangeRequest = apps.get_model("changes", "ChangeRequest")
    change = ChangeRequest.objects.filter(pk=OuterRef("change_id"))
    OpenStage.objects.update(requester_id=Subquery(change.values("requester_id")[:1]),
                             implementer_id=Subquery(change.values("implementer_id")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('changes', '0003_change_planned_start_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='openstage',
            name='requester',
            field=models.ForeignKey(db_index=False, null=True, on_delete=models.deletion.CASCADE, related_name='+',
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='openstage',
            name='implementer',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=models.deletion.CASCADE,
                                    related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(copy_requester_and_implementer, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='openstage',
            name='requester',
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name='+',
                                    to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='approval',
            index=models.Index(condition=models.Q(('voided_at__isnull', True)), fields=['approver', 'change'],
                               name='approval_live_approver_idx'),
        ),
        migrations.AddIndex(
            model_name='approval',
            index=models.Index(condition=models.Q(('on_behalf_of__isnull', False), ('voided_at__isnull', True)),
                               fields=['on_behalf_of', 'change'], name='approval_live_on_behalf_idx'),
        ),
    ]
