"""Helpers for evidence pack tests."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path


def generate(auditor, scope="control_period", capture=None, **data):
    """Request a pack as `auditor` and run its task; returns the refreshed pack."""
    from apps.audit.evidence import evidence_pack_request

    with capture(execute=True):
        pack = evidence_pack_request(scope=scope, data=data, actor=auditor)
    pack.refresh_from_db()
    assert pack.status == "ready", pack.error
    return pack


def pack_path(pack) -> Path:
    from django.core.files.storage import storages

    return Path(storages["archive"].path(pack.path))


def published_key(pack=None) -> bytes:
    """The portal's published public key (PEM) that signed `pack` (the current key without one),
    as an auditor saves it from /audit/keys/."""
    from apps.audit.models import SigningKey

    record = pack.signing_key if pack is not None else SigningKey.objects.get(retired_at__isnull=True)
    return record.public_key_pem.encode("ascii")


def read_csv(zf: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8"))))


def manifest(zf: zipfile.ZipFile) -> dict:
    return json.loads(zf.read("manifest.json"))


def rewrite(src: Path, dst: Path, *, replace: dict[str, bytes] | None = None, drop: set[str] = frozenset()) -> Path:
    """Copy a ZIP, replacing or dropping members (what a tamperer would do)."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info, replace.get(info.filename, zin.read(info.filename)))
    return dst
