from django.core.management.base import BaseCommand

from apps.accounts.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Print the demo organisation's sign-ins."

    def handle(self, *args, **options):
        self.stdout.write("")
        self.stdout.write("Release Portal demo — open http://127.0.0.1:8000 and sign in as (password: demo):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<8} {what}")
        self.stdout.write("")
