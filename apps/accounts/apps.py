from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the bearer-token security scheme with drf-spectacular (by import).
        from . import schema  # noqa: F401
