# A partial index of running deployments for the gate's slot check.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('delivery', '0003_pull_requests'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='deployment',
            index=models.Index(condition=models.Q(('status__in', ['started', 'in_progress'])), fields=['service', 'environment', 'started_at'], name='deploy_running_idx'),
        ),
    ]
