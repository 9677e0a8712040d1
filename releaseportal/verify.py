"""Offline verifier for Release Portal evidence packs.

    python -m releaseportal.verify PACK.zip --public-key PUBLISHED_KEY.pem
    python verify.py PACK.zip --public-key PUBLISHED_KEY.pem   (this same file ships in every pack)

Needs only Python 3.10+ and the `cryptography` package. It checks, in order:

1. `manifest.sig` is a valid Ed25519 signature over the exact bytes of `manifest.json`, made by
   a key given with `--public-key`: the portal's published key, obtained from the portal (its
   /audit/keys/ page), never from the pack. Without one, or when the pack was signed by another
   key (the one shipped inside an edited, re-signed pack), it fails and prints which key
   signed the pack.
2. Every file listed in the manifest is present with the listed size and SHA-256, and the ZIP
   holds no file the manifest does not list.
3. The audit chain: `audit/chain.jsonl` (sequence, prev_hash, hash of every event from the
   first covered event to the checkpoint) links without a gap from the stated start to the
   checkpoint head in `audit/checkpoint.json` and the manifest; every audit event included in
   full (the manifest's `event_files`) hashes to its stored hash and sits at its place in
   that chain.

Exit status 0 when everything holds; 1 naming the first failing file or event (and listing
the others); 2 when the pack cannot be read at all.

The hashing below is the portal's own (apps/audit/chain.py): hash_n = SHA-256(prev_hash + "\\n"
+ canonical JSON of event n), canonical JSON = sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
HASHED_FIELDS = (
    "seq", "created_at", "actor_id", "actor_type", "actor_label", "action",
    "object_type", "object_id", "object_repr", "request_id", "ip", "details",
)
CHUNK = 1024 * 1024


def canonical_json(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def link_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(payload))
    return digest.hexdigest()


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The published key whose signature holds, and whether the (signed) manifest says it is the
    # development key derived from the portal's SECRET_KEY: such a pack proves nothing.
    signer: str = ""
    development_key: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str) -> None:
        self.problems.append(message)


def _sha256_of_member(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            size += len(block)
            digest.update(block)
    return digest.hexdigest(), size


def _load_public_key(pem: bytes):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_fingerprint(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _signature_valid(public_key, signature: bytes, manifest_bytes: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(signature, manifest_bytes)
    except InvalidSignature:
        return False
    return True


def _check_signature(archive: zipfile.ZipFile, manifest_bytes: bytes, manifest: dict, names: set[str],
                     published_pems: list[bytes], report: Report) -> None:
    """The manifest must be signed by a key the portal published, given on the command line.
    The key shipped inside the pack proves nothing: whoever edits a pack re-signs it with a key
    of their own and ships that one."""
    if SIGNATURE not in names:
        report.fail(f"file {SIGNATURE}: missing")
        return
    try:
        signature = base64.b64decode(archive.read(SIGNATURE).strip(), validate=True)
    except ValueError:
        report.fail(f"file {SIGNATURE}: not base64")
        return
    key_file = manifest.get("signing_key", {}).get("public_key_file", "public_key.pem")
    stated = manifest.get("signing_key", {}).get("key_id")
    shipped = None
    if key_file in names:
        try:
            shipped = _load_public_key(archive.read(key_file))
        except ValueError as exc:
            report.fail(f"file {key_file}: unreadable public key ({exc})")
    signer = stated or (key_fingerprint(shipped) if shipped is not None else "unknown")
    if shipped is not None and _signature_valid(shipped, signature, manifest_bytes):
        signer = key_fingerprint(shipped)
    if not published_pems:
        report.fail(f"file {SIGNATURE}: no published key given; this pack was signed by key {signer}. Verify it "
                    f"against the portal's published key: --public-key KEY.pem (the portal's /audit/keys/ page)")
        return
    published = []
    for pem in published_pems:
        try:
            published.append(_load_public_key(pem))
        except ValueError as exc:
            report.fail(f"--public-key: unreadable public key ({exc})")
            return
    for key in published:
        if _signature_valid(key, signature, manifest_bytes):
            fingerprint = key_fingerprint(key)
            if stated and stated != fingerprint:
                report.fail(f"file {MANIFEST}: names key_id {stated} but was signed by the published key {fingerprint}")
            report.notes.append(f"signature valid (Ed25519 key {fingerprint}, a published key)")
            report.signer = fingerprint
            report.development_key = bool(manifest.get("signing_key", {}).get("development"))
            return
    fingerprints = ", ".join(key_fingerprint(key) for key in published)
    report.fail(f"file {SIGNATURE}: the signature does not match {MANIFEST} and the published key {fingerprints}; "
                f"this pack was signed by key {signer}, which is not the portal's published key")


def _check_files(archive: zipfile.ZipFile, manifest: dict, names: set[str], report: Report) -> None:
    listed = set()
    for entry in manifest.get("files", []):
        path = entry.get("path", "")
        listed.add(path)
        if path not in names:
            report.fail(f"file {path}: missing from the pack")
            continue
        sha, size = _sha256_of_member(archive, path)
        if sha != entry.get("sha256"):
            report.fail(f"file {path}: SHA-256 {sha} differs from the manifest's {entry.get('sha256')}")
        elif size != entry.get("size"):
            report.fail(f"file {path}: size {size} differs from the manifest's {entry.get('size')}")
    for name in sorted(names - listed - {MANIFEST, SIGNATURE}):
        if not name.endswith("/"):
            report.fail(f"file {name}: not listed in the manifest")
    report.notes.append(f"{len(listed)} files listed")


def _read_jsonl(archive: zipfile.ZipFile, name: str):
    with archive.open(name) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line:
                yield number, json.loads(line)


def _check_chain(archive: zipfile.ZipFile, manifest: dict, names: set[str], report: Report) -> None:
    audit = manifest.get("audit")
    if not audit:
        report.notes.append("no audit events in this pack")
        return
    checkpoint_file = audit.get("checkpoint_file", "audit/checkpoint.json")
    chain_file = audit.get("chain_file", "audit/chain.jsonl")
    for name in (checkpoint_file, chain_file):
        if name not in names:
            report.fail(f"file {name}: missing (audit chain)")
            return
    checkpoint = json.loads(archive.read(checkpoint_file))
    signed = audit.get("checkpoint", {})
    for key in ("head_seq", "head_hash", "start_seq", "start_prev_hash"):
        if checkpoint.get(key) != signed.get(key):
            report.fail(f"file {checkpoint_file}: {key} differs from the signed manifest")
            return
    if checkpoint.get("head_seq") is None:
        report.notes.append("audit chain: no events covered")
        return
    # The chain skeleton: every link from start to head. Kept as seq -> (prev, hash) for the
    # events included in full; other links are only checked as they stream past.
    wanted: dict[int, tuple[str, str]] = {}
    full_events: list[tuple[str, int, str, str]] = []
    for event_file in audit.get("event_files", []):
        if event_file not in names:
            report.fail(f"file {event_file}: missing (audit events)")
            continue
        for line_no, event in _read_jsonl(archive, event_file):
            seq = event.get("seq")
            payload = {key: event.get(key) for key in HASHED_FIELDS}
            computed = link_hash(str(event.get("prev_hash", "")), payload)
            if computed != event.get("hash"):
                report.fail(f"audit event #{seq} in {event_file} (line {line_no}): its contents do not hash to "
                            f"its stored hash — the event was altered")
                continue
            wanted.setdefault(seq, (event.get("prev_hash"), event.get("hash")))
            full_events.append((event_file, seq, event.get("prev_hash"), event.get("hash")))
    expected_seq = checkpoint["start_seq"]
    prev_hash = checkpoint["start_prev_hash"]
    seen: dict[int, tuple[str, str]] = {}
    for line_no, link in _read_jsonl(archive, chain_file):
        seq, link_prev, link_own = link
        if seq != expected_seq:
            report.fail(f"audit chain {chain_file} line {line_no}: sequence {seq} where {expected_seq} was expected")
            return
        if link_prev != prev_hash:
            report.fail(f"audit event #{seq}: prev_hash does not point at the hash of #{seq - 1} ({chain_file})")
            return
        if seq in wanted:
            seen[seq] = (link_prev, link_own)
        prev_hash = link_own
        expected_seq += 1
    head_seq = expected_seq - 1
    if head_seq != checkpoint["head_seq"] or prev_hash != checkpoint["head_hash"]:
        report.fail(f"audit chain {chain_file}: ends at #{head_seq} {prev_hash}, not at the checkpoint "
                    f"#{checkpoint['head_seq']} {checkpoint['head_hash']}")
        return
    for event_file, seq, event_prev, event_hash in full_events:
        if seen.get(seq) != (event_prev, event_hash):
            report.fail(f"audit event #{seq} in {event_file}: not the event at #{seq} of the chain up to the checkpoint")
    report.notes.append(f"audit chain intact from #{checkpoint['start_seq']} to checkpoint #{head_seq} "
                        f"{prev_hash} ({len(full_events)} events checked in full)")


def verify(path: str, published_keys: list[bytes] | tuple[bytes, ...] = ()) -> Report:
    """Verify the pack at `path` against the portal's published public keys (PEM): a pack is
    VERIFIED only when one of them signed it."""
    report = Report()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            report.fail(f"file {MANIFEST}: missing")
            return report
        manifest_bytes = archive.read(MANIFEST)
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError:
            report.fail(f"file {MANIFEST}: not valid JSON")
            return report
        _check_signature(archive, manifest_bytes, manifest, names, list(published_keys), report)
        _check_files(archive, manifest, names, report)
        _check_chain(archive, manifest, names, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m releaseportal.verify",
                                     description="Verify a Release Portal evidence pack offline.")
    parser.add_argument("pack", help="the evidence pack ZIP")
    parser.add_argument("--public-key", action="append", default=[], metavar="KEY.pem",
                        help="PEM file of the portal's published public key (the /audit/keys/ page); repeat it for "
                             "rotated keys. Without it nothing verifies: the key inside the pack only proves self-consistency")
    args = parser.parse_args(argv)
    trusted = []
    for name in args.public_key:
        try:
            with open(name, "rb") as handle:
                trusted.append(handle.read())
        except OSError as exc:
            print(f"FAILED: cannot read the public key {name}: {exc}", file=sys.stderr)
            return 2
    try:
        report = verify(args.pack, trusted)
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, TypeError) as exc:
        print(f"FAILED: cannot read {args.pack}: {exc}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(f"ok: {note}")
    if report.ok:
        if report.development_key:
            warning = (f"WARNING: signed with the DEVELOPMENT key {report.signer} (derived from the portal's "
                       f"SECRET_KEY, no EVIDENCE_SIGNING_KEY configured): this pack is consistent but it is NOT "
                       f"evidence")
            print(warning)
            print(warning, file=sys.stderr)
            print(f"VERIFIED (development key, not evidence): {args.pack} signed by key {report.signer}")
        else:
            print(f"VERIFIED: {args.pack} signed by key {report.signer}")
        return 0
    print(f"FAILED: {report.problems[0]}", file=sys.stderr)
    for problem in report.problems[1:]:
        print(f"  also: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
