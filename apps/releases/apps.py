from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"
    label = "releases"
    verbose_name = "Releases"

    def ready(self) -> None:
        from apps.changes.models import ChangeState
        from apps.changes.transition_guards import TransitionGuard, register_transition_guard
        from apps.delivery.gate_rules import register_gate_rule

        from . import checkpoints, gate_rules, services
        from .templates_services import register_templates_rule

        register_templates_rule()
        register_gate_rule(gate_rules.RULE)
        register_transition_guard(TransitionGuard(name="releases.cadence", to_states=frozenset({ChangeState.SCHEDULED}),
                                                  check=services.off_cadence_refusal))
        register_transition_guard(TransitionGuard(name="releases.checkpoints",
                                                  to_states=frozenset({ChangeState.SCHEDULED}),
                                                  check=checkpoints.refusal_for_change))
