from apps.change_types.policy import PolicyError, apply_import, plan_import
from releaseportal.policy_import import PolicyImportCommand


class Command(PolicyImportCommand):
    help = "Apply a policy file (see policy_export). Shows the diff; --dry-run changes nothing. Invalid files are refused."
    actor_name = "policy_import"
    error = PolicyError

    def plan(self, text):
        return plan_import(text)

    def apply(self, plan, *, actor):
        apply_import(plan, actor=actor)
