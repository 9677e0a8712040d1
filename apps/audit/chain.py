"""The hash chain: hash_n = SHA-256(prev_hash + "\\n" + canonical JSON of event n).

Canonical JSON: sorted keys, no spaces, UTF-8, times as ISO 8601 UTC with microseconds. The
same function is used to write, to verify here, and (copied into every evidence pack) to
verify offline, so the three can never disagree."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

HASHED_FIELDS = (
    "seq", "created_at", "actor_id", "actor_type", "actor_label", "action",
    "object_type", "object_id", "object_repr", "request_id", "ip", "details",
)


def normalise_details(value: Any) -> Any:
    """Make details survive a JSON round trip through the database unchanged."""
    if isinstance(value, dict):
        return {str(k): normalise_details(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise_details(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_details(details: Any) -> str:
    """The text `details` takes inside canonical_json(payload): stored verbatim in the database."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_payload(*, seq: int, created_at: datetime, actor_id: int | None, actor_type: str, actor_label: str,
                  action: str, object_type: str, object_id: str, object_repr: str, request_id: str, ip: str,
                  details: Any) -> dict[str, Any]:
    return {
        "seq": seq, "created_at": format_time(created_at), "actor_id": actor_id, "actor_type": actor_type,
        "actor_label": actor_label, "action": action, "object_type": object_type, "object_id": object_id,
        "object_repr": object_repr, "request_id": request_id, "ip": ip, "details": details,
    }


def link_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(payload))
    return digest.hexdigest()
