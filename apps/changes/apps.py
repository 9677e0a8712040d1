from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "apps.changes"
    label = "changes"
    verbose_name = "Changes"

    def ready(self) -> None:
        from . import close_guards  # noqa: F401  (registers the expected-guards system check)
