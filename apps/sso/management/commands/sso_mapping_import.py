from apps.sso.policy import PolicyError, apply_import, plan_import
from releaseportal.policy_import import PolicyImportCommand


class Command(PolicyImportCommand):
    help = ("Apply a group mapping file (see sso_mapping_export). Shows the diff; --dry-run changes nothing. "
            "Invalid files are refused.")
    actor_name = "sso_mapping_import"
    error = PolicyError

    def plan(self, text):
        return plan_import(text)

    def apply(self, plan, *, actor):
        apply_import(plan, actor=actor)
