from django.core.management.base import BaseCommand

from apps.sso.policy import export_mapping


class Command(BaseCommand):
    help = "Print the single sign-on group mapping (provider group → roles and teams) as YAML."

    def handle(self, *args, **options):
        self.stdout.write(export_mapping(), ending="")
