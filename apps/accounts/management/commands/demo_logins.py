from django.conf import settings
from django.core.management.base import BaseCommand

from apps.accounts.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Print the demo organisation's sign-ins."

    def add_arguments(self, parser):
        # `make run PORT=8101` passes the address it serves on; SITE_URL otherwise.
        parser.add_argument("--url", default=None, help="The address the portal is served on")

    def handle(self, *args, **options):
        url = options["url"] or settings.SITE_URL
        self.stdout.write("")
        self.stdout.write(f"Release Portal demo — open {url} and sign in as (password: demo):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<8} {what}")
        self.stdout.write("")
