from django.apps import AppConfig


class ValidationConfig(AppConfig):
    name = "apps.validation"
    label = "validation"
    verbose_name = "Validation"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from apps.changes.close_guards import CloseGuard, register_close_guard
        from apps.delivery.gate_rules import register_gate_rule
        from apps.delivery.models import Deployment

        from . import gate, grafana, logreview
        from .models import RollbackDecision

        # canary: the gate rule `canary_failed`, the log review close guard, the Grafana markers.
        register_gate_rule(gate.RULE)
        register_close_guard(CloseGuard(name=logreview.GUARD_NAME, check=logreview.close_guard))
        post_save.connect(grafana.on_deployment_saved, sender=Deployment, dispatch_uid="validation_grafana_deployment")
        post_save.connect(grafana.on_rollback_decision_saved, sender=RollbackDecision,
                          dispatch_uid="validation_grafana_rollback_decision")
