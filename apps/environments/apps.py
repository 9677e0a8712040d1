from django.apps import AppConfig


class EnvironmentsConfig(AppConfig):
    name = "apps.environments"
    label = "environments"
    verbose_name = "Environments"

    def ready(self) -> None:
        from apps.changes.approval_hooks import register_approval_hook
        from apps.delivery.gate_rules import register_gate_rule

        from . import config_gate, config_services, config_tasks, gate  # noqa: F401  (config_tasks: Celery tasks)

        register_gate_rule(gate.RULE)
        register_gate_rule(config_gate.RULE)
        register_approval_hook("environments.config_baseline", config_services.baseline_approve_for_change)
