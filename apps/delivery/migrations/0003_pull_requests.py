# Pull requests reported by GitHub webhooks, linked to changes and commits.

import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_service_object_permissions'),
        ('changes', '0003_change_planned_start_index'),
        ('delivery', '0002_supply_chain_gates_locks_webhooks'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalPullRequest',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('history_actor_kind', models.CharField(choices=[('user', 'user'), ('service_account', 'service_account'), ('task', 'task'), ('command', 'command'), ('system', 'system')], default='system', max_length=20)),
                ('history_actor_label', models.CharField(blank=True, default='', max_length=150)),
                ('provider', models.CharField(max_length=10)),
                ('external_id', models.CharField(db_index=True, max_length=100)),
                ('repository', models.CharField(max_length=200)),
                ('number', models.PositiveIntegerField()),
                ('change_ref', models.CharField(blank=True, max_length=40)),
                ('title', models.CharField(max_length=300)),
                ('url', models.URLField(blank=True, max_length=500)),
                ('author', models.CharField(blank=True, max_length=100)),
                ('state', models.CharField(choices=[('open', 'Open'), ('closed', 'Closed'), ('merged', 'Merged')], max_length=6)),
                ('draft', models.BooleanField(default=False)),
                ('head_ref', models.CharField(blank=True, max_length=255)),
                ('head_sha', models.CharField(blank=True, max_length=40)),
                ('base_ref', models.CharField(blank=True, max_length=255)),
                ('merge_commit_sha', models.CharField(blank=True, max_length=40)),
                ('opened_at', models.DateTimeField(blank=True, null=True)),
                ('merged_at', models.DateTimeField(blank=True, null=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('provider_updated_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('change', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='changes.changerequest')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('service', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='catalog.service')),
            ],
            options={
                'verbose_name': 'historical pull request',
                'verbose_name_plural': 'historical pull requests',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='PullRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=10)),
                ('external_id', models.CharField(max_length=100, unique=True)),
                ('repository', models.CharField(max_length=200)),
                ('number', models.PositiveIntegerField()),
                ('change_ref', models.CharField(blank=True, max_length=40)),
                ('title', models.CharField(max_length=300)),
                ('url', models.URLField(blank=True, max_length=500)),
                ('author', models.CharField(blank=True, max_length=100)),
                ('state', models.CharField(choices=[('open', 'Open'), ('closed', 'Closed'), ('merged', 'Merged')], max_length=6)),
                ('draft', models.BooleanField(default=False)),
                ('head_ref', models.CharField(blank=True, max_length=255)),
                ('head_sha', models.CharField(blank=True, max_length=40)),
                ('base_ref', models.CharField(blank=True, max_length=255)),
                ('merge_commit_sha', models.CharField(blank=True, max_length=40)),
                ('opened_at', models.DateTimeField(blank=True, null=True)),
                ('merged_at', models.DateTimeField(blank=True, null=True)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('provider_updated_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('change', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='pull_requests', to='changes.changerequest')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='pull_requests', to='catalog.service')),
            ],
            options={
                'ordering': ['-opened_at', '-id'],
                'indexes': [models.Index(fields=['change'], name='pr_change_idx'), models.Index(fields=['service', 'head_sha'], name='pr_service_head_idx'), models.Index(fields=['service', 'merge_commit_sha'], name='pr_service_merge_idx')],
            },
        ),
    ]
