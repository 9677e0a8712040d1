from django.apps import AppConfig


class ChangeTypesConfig(AppConfig):
    name = "apps.change_types"
    label = "change_types"
    verbose_name = "Change types"
