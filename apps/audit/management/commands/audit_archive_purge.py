"""Purge archives whose retention has ended: `manage.py audit_archive_purge 12 13 --reason "..."`.

Each archive goes whole (its records, what belongs to them, their history, its index and its
file) or is refused with the reasons — retention, a legal hold, a record still needed, a class
never purged — and either way the attempt is in the audit log."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.actor import Actor, acting_as
from apps.audit.archives import archive_purge
from apps.audit.models import Archive
from releaseportal.errors import Conflict


class Command(BaseCommand):
    help = "Purge whole archives past retention and free of legal holds; refusals are reported and audited."

    def add_arguments(self, parser):
        parser.add_argument("archive_ids", nargs="+", type=int, help="Archive ids (see the auditor workspace)")
        parser.add_argument("--reason", required=True, help="Why, for the tombstone in the audit log")

    def handle(self, *args, archive_ids: list[int], reason: str, **options):
        if not reason.strip():
            raise CommandError("--reason must say why the archives are purged.")
        archives = {a.pk: a for a in Archive.objects.filter(pk__in=archive_ids)}
        missing = sorted(set(archive_ids) - set(archives))
        if missing:
            raise CommandError(f"No archive with id {', '.join(map(str, missing))}.")
        refused = 0
        with acting_as(Actor.for_command("audit_archive_purge")) as actor:
            for pk in archive_ids:
                archive = archives[pk]
                try:
                    count = archive_purge(archive=archive, actor=actor, reason=reason)
                except Conflict as exc:
                    refused += 1
                    self.stderr.write(f"archive {pk} ({archive}): {exc.message}")
                else:
                    self.stdout.write(f"archive {pk} ({archive}): {count} records purged")
        if refused:
            raise SystemExit(1)
