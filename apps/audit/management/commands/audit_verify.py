from django.core.management.base import BaseCommand

from apps.audit.verification import audit_trail_verify


class Command(BaseCommand):
    help = ("Recompute the audit hash chain from genesis (or from a purge checkpoint a signed purge anchor vouches "
            "for) and compare its head with the newest signed anchor in the archive storage. Exit 0 when intact; "
            "exit 1 naming the first broken sequence number, a truncation or an unverifiable checkpoint.")

    def handle(self, *args, **options):
        report = audit_trail_verify()
        chain = report.chain
        anchored = (f"; anchored through #{report.anchor_seq} at {report.anchor_at}" if report.anchor_seq is not None
                    else "; no anchor in the archive storage yet")
        if report.ok:
            start = f" from checkpoint #{report.start_seq}" if report.start_seq else ""
            self.stdout.write(f"audit chain intact{start}: {chain.checked} events, head #{chain.head_seq} "
                              f"{chain.head_hash}{anchored}")
            return
        if not chain.ok:
            self.stderr.write(f"audit chain BROKEN at sequence {chain.broken_seq}: {chain.reason} "
                              f"({chain.checked} events verified before it)")
        for problem in report.problems:
            self.stderr.write(f"audit chain BROKEN: {problem}")
        raise SystemExit(1)
