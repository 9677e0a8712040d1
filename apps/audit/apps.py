from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_append_only_triggers(sender, using="default", **kwargs) -> None:
    from django.db import connections

    from .triggers import install

    install(connections[using])


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from . import history  # noqa: F401  (connects the history actor stamp)

        # Housekeeping: (re)install the append-only triggers once every app has migrated.
        post_migrate.connect(_install_append_only_triggers, sender=self, dispatch_uid="rp_audit_triggers")
