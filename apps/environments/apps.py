from django.apps import AppConfig


class EnvironmentsConfig(AppConfig):
    name = "apps.environments"
    label = "environments"
    verbose_name = "Environments"

    def ready(self) -> None:
        from apps.delivery.gate_rules import register_gate_rule

        from . import gate

        register_gate_rule(gate.RULE)
