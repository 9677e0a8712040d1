from django.core.management.base import BaseCommand

from apps.change_types.policy import export_policy


class Command(BaseCommand):
    help = "Print the change types and their approval workflows as YAML (policy as code)."

    def handle(self, *args, **options):
        self.stdout.write(export_policy(), ending="")
