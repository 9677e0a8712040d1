"""Load the demo organisation. Idempotent: running it twice leaves one organisation.

Each app adds its own data in `apps/<app>/demo.py: seed(ctx)`, called in dependency order."""

from __future__ import annotations

import random

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from apps.audit.actor import Actor, acting_as
from releaseportal.extensions import app_modules

ORDER = ["accounts", "sso", "catalog", "change_types", "changes", "delivery", "incidents", "access_reviews",
         "environments", "validation", "releases", "reports", "audit"]


class DemoContext:
    def __init__(self, *, seed: int, stdout) -> None:
        self.rng = random.Random(seed)
        self.now = timezone.now()
        self.stdout = stdout
        self.users: dict = {}
        self.teams: dict = {}
        self.services: dict = {}
        self.environments: dict = {}

    def say(self, message: str) -> None:
        self.stdout.write(f"  {message}")


class Command(BaseCommand):
    help = "Load (or top up) the demo organisation: teams, services, people, and each app's demo data."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=20261126)

    def handle(self, *args, seed: int, **options):
        ctx = DemoContext(seed=seed, stdout=self.stdout)
        actor = Actor.for_command("seed_demo")
        # The demo's own notifications (approvers asked, reviews opened) are not for anyone's inbox.
        with acting_as(actor), override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            for app, module in app_modules("demo", ORDER):
                self.stdout.write(f"seeding {app}…")
                with transaction.atomic():
                    module.seed(ctx)
        self.stdout.write(self.style.SUCCESS("Demo organisation ready."))
