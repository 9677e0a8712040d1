"""One gate allow authorises one deployment, held by a unique constraint.

Before it, one allow could be linked to any number of deployments. The earliest keeps the link;
the others are unlinked and, in production, flagged unauthorised (reconciliation lists them),
each with a history row saying why."""

from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

REASON = "gate allow already used by an earlier deployment"


def unlink_reused_allows(apps, schema_editor):
    Deployment = apps.get_model("delivery", "Deployment")
    HistoricalDeployment = apps.get_model("delivery", "HistoricalDeployment")
    reused = list(Deployment.objects.exclude(gate_decision=None).values("gate_decision").order_by()
                  .annotate(n=Count("id")).filter(n__gt=1).values_list("gate_decision", flat=True))
    tracked = [f.attname for f in Deployment._meta.concrete_fields]
    now = timezone.now()
    for decision_id in reused:
        _first, *later = (Deployment.objects.select_related("environment").filter(gate_decision_id=decision_id)
                          .order_by("created_at", "id"))
        for deployment in later:
            deployment.gate_decision_id = None
            deployment.is_unauthorized = deployment.is_unauthorized or deployment.environment.is_production
            deployment.save(update_fields=["gate_decision", "is_unauthorized"])
            HistoricalDeployment.objects.create(
                **{name: getattr(deployment, name) for name in tracked}, history_date=now,
                history_change_reason=REASON, history_type="~", history_user=None, history_actor_kind="system",
                history_actor_label="migration:delivery.0005")


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0004_deployment_running_index"),
    ]

    operations = [
        migrations.RunPython(unlink_reused_allows, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="deployment",
            constraint=models.UniqueConstraint(condition=models.Q(gate_decision__isnull=False),
                                               fields=("gate_decision",), name="one_deployment_per_gate_decision"),
        ),
    ]
