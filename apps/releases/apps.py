from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"
    label = "releases"
    verbose_name = "Releases"

    def ready(self) -> None:
        from .templates_services import register_templates_rule

        register_templates_rule()
