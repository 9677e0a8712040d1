from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.actor import Actor, acting_as
from apps.sso.policy import PolicyError, apply_import, plan_import


class Command(BaseCommand):
    help = ("Apply a group mapping file (see sso_mapping_export). Shows the diff; --dry-run changes nothing. "
            "Invalid files are refused.")

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="Show the diff without applying it")

    def handle(self, *args, path: str, dry_run: bool, **options):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        try:
            plan = plan_import(text)
        except PolicyError as exc:
            raise CommandError(f"{path}: refused, nothing applied — {exc}") from exc
        for line in plan.diff + plan.notes:
            self.stdout.write(line)
        if not plan.has_changes:
            self.stdout.write("No changes.")
            return
        if dry_run:
            self.stdout.write(f"Dry run: {len(plan.diff)} change(s) not applied.")
            return
        with acting_as(Actor.for_command("sso_mapping_import")) as actor:
            apply_import(plan, actor=actor)
        self.stdout.write(self.style.SUCCESS(f"Applied {len(plan.diff)} change(s)."))
