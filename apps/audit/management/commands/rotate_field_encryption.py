"""Re-encrypt every EncryptedTextField value with the current key: `manage.py rotate_field_encryption`.

Rotating a key: put the new Fernet key first in FIELD_ENCRYPTION_KEYS, keep the old one after it,
run this command, then drop the old key. The encrypted fields are found by model introspection
(every installed model's concrete EncryptedTextField; history tables are append-only and keep no
secrets, so historical models are left alone), so the audit app imports no app above it.

All or nothing: every value is decrypted first; one that no configured key opens stops the
command before anything is written (exit status 1, naming the model, field and row ids, never a
value). A successful run is one audit event `audit.field_encryption_rotated` by the command actor,
with the number of values per field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from apps.audit.actor import Actor, acting_as
from apps.audit.encryption import PREFIX, EncryptedTextField, decrypt, encrypt, reset_keys, rotate
from apps.audit.services import audit_event_record

COMMAND = "rotate_field_encryption"


def encrypted_fields() -> list[tuple[type, EncryptedTextField]]:
    """(model, field) for every EncryptedTextField of an installed, non-historical model."""
    found = []
    for model in apps.get_models():
        if hasattr(model, "instance_type") or model._meta.proxy:  # simple-history's tables; proxies repeat
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                found.append((model, model_field))
    return found


@dataclass
class Rotation:
    counts: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list] = field(default_factory=dict)
    writes: list[tuple[type, str, object, str]] = field(default_factory=list)


def plan_rotation() -> Rotation:
    """Decrypt and re-encrypt every value in memory; nothing is written."""
    plan = Rotation()
    for model, model_field in encrypted_fields():
        label = f"{model._meta.label}.{model_field.name}"
        plan.counts[label] = 0
        rows = (model._base_manager.exclude(**{model_field.attname: ""}).exclude(**{f"{model_field.attname}__isnull": True})
                .annotate(_stored=Cast(model_field.attname, TextField())).values_list("pk", "_stored").order_by("pk"))
        for pk, stored in rows:
            if stored.startswith(PREFIX):
                try:
                    decrypt(stored)
                except ValueError:
                    plan.unreadable.setdefault(label, []).append(pk)
                    continue
                new = rotate(stored)
            else:  # left in clear (written around the field): encrypted now
                new = encrypt(stored)
            plan.writes.append((model, model_field.attname, pk, new))
            plan.counts[label] += 1
    return plan


def rotate_all(*, actor: Actor) -> dict[str, int]:
    """Rotate every value in one transaction with one audit event; raises CommandError, writing
    nothing, when a value cannot be decrypted."""
    reset_keys()
    with transaction.atomic():
        plan = plan_rotation()
        if plan.unreadable:
            problems = "; ".join(f"{label} rows {', '.join(map(str, pks))}" for label, pks in plan.unreadable.items())
            raise CommandError("No configured FIELD_ENCRYPTION_KEYS key decrypts these values (nothing was "
                               f"re-encrypted; add the old key after the new one and run again): {problems}")
        for model, attname, pk, new in plan.writes:
            # `new` is already a current-key token: the field keeps it as it is.
            model._base_manager.filter(pk=pk).update(**{attname: new})
        audit_event_record(action="audit.field_encryption_rotated", actor=actor, object_type="audit.encryption",
                           object_id="field-encryption", object_repr="Encrypted fields",
                           details={"fields": plan.counts, "values": sum(plan.counts.values())})
    return plan.counts


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field value with the first FIELD_ENCRYPTION_KEYS key (all or nothing, audited)."

    def handle(self, *args, **options):
        with acting_as(Actor.for_command(COMMAND)) as actor:
            try:
                counts = rotate_all(actor=actor)
            except CommandError as exc:
                self.stderr.write(str(exc))
                raise SystemExit(1) from exc
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} values re-encrypted")
        self.stdout.write(f"{sum(counts.values())} values re-encrypted with the current key.")
