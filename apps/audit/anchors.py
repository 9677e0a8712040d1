"""The chain head anchored outside the database.

The hash chain proves that the events present are the events written, in order; it cannot show
that the newest ones were deleted (the shorter chain is still a valid chain), nor that a purge
checkpoint was written by a purge. So the head is anchored where the database's users cannot
reach: a small JSON file in the archive storage (settings.STORAGES["archive"]; WORM / object
lock in production), signed with the evidence signing key (apps.audit.signing):

    {"format": "release-portal-chain-anchor/1", "kind": "head" | "purge", "seq": 5005,
     "hash": "…", "event_at": "…", "anchored_at": "…", "reason": "schedule",
     "key_id": "…", "signature": "<base64 Ed25519 over the canonical JSON of the other fields>"}

Head anchors are written on a schedule (apps/audit/schedules.py) and for every evidence pack;
a purge of the chain's oldest events writes a purge anchor for its checkpoint. Verification
(apps.audit.verification.audit_trail_verify) accepts an anchor only with a valid signature by a
published key, reports the database head falling short of the newest head anchor as
truncation, and trusts a checkpoint only when a purge anchor vouches for it; events older than
settings.AUDIT_ANCHOR_MAX_AGE_MINUTES under no anchor are reported too (anchors removed with
the events they covered, or the schedule stopped). Events newer than the newest anchor are the
only ones whose deletion goes unseen, hence the short schedule; and the anchors are only as
safe as their storage: give the archive bucket object lock / WORM retention in production.
File names sort by sequence number, so the newest anchor is the last name in its folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from .chain import canonical_json, format_time
from .models import AuditEvent, SigningKey
from .signing import current_key, publish_current_key

FORMAT = "release-portal-chain-anchor/1"
HEAD = "head"
PURGE = "purge"
FOLDER = "audit-anchors"


@dataclass(frozen=True)
class Anchor:
    kind: str
    seq: int
    hash: str
    event_at: str
    anchored_at: str
    reason: str
    key_id: str
    signature: str
    name: str = ""

    def signed_fields(self) -> dict:
        fields = asdict(self)
        for unsigned in ("signature", "name"):
            fields.pop(unsigned)
        return {"format": FORMAT, **fields}


def storage():
    return storages["archive"]


def _name(kind: str, seq: int, anchored_at: dt.datetime) -> str:
    # Zero-padded: names sort by sequence number, then by time.
    return f"{FOLDER}/{kind}/{seq:016d}-{anchored_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%fZ}.json"


def chain_anchor_write(*, reason: str, kind: str = HEAD, seq: int | None = None, hash_: str | None = None,
                       event_at: dt.datetime | None = None, now: dt.datetime | None = None) -> Anchor | None:
    """Sign and store an anchor of (seq, hash): the head of the chain as this connection sees
    it, unless given. Returns None when the chain is empty (nothing to anchor)."""
    if seq is None:
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash", "created_at").first()
        if head is None:
            return None
        seq, hash_, event_at = head
    publish_current_key()
    key = current_key()
    anchored_at = now or timezone.now()
    unsigned = Anchor(kind=kind, seq=seq, hash=hash_, event_at=format_time(event_at) if event_at else "",
                      anchored_at=format_time(anchored_at), reason=reason[:300], key_id=key.key_id, signature="")
    signature = base64.b64encode(key.sign(canonical_json(unsigned.signed_fields()))).decode("ascii")
    body = {**unsigned.signed_fields(), "signature": signature}
    stored = storage().save(_name(kind, seq, anchored_at),
                            ContentFile(json.dumps(body, sort_keys=True, indent=2).encode("utf-8")))
    return Anchor(**{**asdict(unsigned), "signature": signature, "name": stored})


def chain_anchor_on_schedule(*, now: dt.datetime | None = None) -> Anchor | None:
    """The periodic anchor: written when the head moved since the newest valid head anchor."""
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    if head is None:
        return None
    newest, _problems = newest_valid_anchor(HEAD)
    if newest is not None and (newest.seq, newest.hash) == head:
        return None
    return chain_anchor_write(reason="schedule", now=now)


# --- reading and checking anchors ------------------------------------------------------------

def anchor_names(kind: str) -> list[str]:
    folder = f"{FOLDER}/{kind}"
    try:
        _dirs, files = storage().listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(f"{folder}/{name}" for name in files if name.endswith(".json"))


def _trusted_keys() -> dict[str, str]:
    """Published keys (every key that ever signed) and the configured one: key_id -> PEM."""
    keys = dict(SigningKey.objects.values_list("key_id", "public_key_pem"))
    key = current_key()
    keys.setdefault(key.key_id, key.public_key_pem)
    return keys


def anchor_read(name: str, trusted: dict[str, str] | None = None) -> tuple[Anchor | None, str]:
    """(anchor, "") when the file is a well-formed anchor signed by a published key, else
    (None, why not)."""
    try:
        with storage().open(name, "rb") as handle:
            body = json.loads(handle.read())
        anchor = Anchor(kind=body["kind"], seq=int(body["seq"]), hash=body["hash"], event_at=body["event_at"],
                        anchored_at=body["anchored_at"], reason=body["reason"], key_id=body["key_id"],
                        signature=body["signature"], name=name)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"anchor {name} is unreadable ({exc.__class__.__name__})"
    if body.get("format") != FORMAT:
        return None, f"anchor {name} is not a {FORMAT} file"
    trusted = _trusted_keys() if trusted is None else trusted
    pem = trusted.get(anchor.key_id)
    if pem is None:
        return None, f"anchor {name} is signed by key {anchor.key_id}, which the portal never published"
    public = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(public, Ed25519PublicKey):
        return None, f"anchor {name}: published key {anchor.key_id} is not an Ed25519 key"
    try:
        public.verify(base64.b64decode(anchor.signature, validate=True), canonical_json(anchor.signed_fields()))
    except (InvalidSignature, ValueError):
        return None, f"anchor {name} does not match its signature: it was altered or forged"
    return anchor, ""


def newest_valid_anchor(kind: str) -> tuple[Anchor | None, list[str]]:
    """The newest anchor of `kind` with a valid signature, and a problem for every newer file
    that is not one (a forged or damaged anchor is reported, never silently skipped)."""
    trusted = _trusted_keys()
    problems = []
    for name in reversed(anchor_names(kind)):
        anchor, problem = anchor_read(name, trusted)
        if anchor is not None and anchor.kind != kind:
            anchor, problem = None, f"anchor {name} is a {anchor.kind} anchor filed as {kind}"
        if anchor is not None:
            return anchor, problems
        problems.append(problem)
    return None, problems


def purge_anchor_for(seq: int, hash_: str) -> Anchor | None:
    """The validly signed purge anchor vouching for checkpoint (seq, hash), if any."""
    trusted = _trusted_keys()
    prefix = f"{FOLDER}/{PURGE}/{seq:016d}-"
    for name in anchor_names(PURGE):
        if name.startswith(prefix):
            anchor, _problem = anchor_read(name, trusted)
            if anchor is not None and anchor.kind == PURGE and (anchor.seq, anchor.hash) == (seq, hash_):
                return anchor
    return None
