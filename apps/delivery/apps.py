from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "apps.delivery"
    label = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        from . import gate_rules  # noqa: F401  (registers the expected-rules system check)
