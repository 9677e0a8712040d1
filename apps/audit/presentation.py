"""How an audit event reads on the log page: details as labelled values instead of Python
dict text, the target as a readable label with a link (apps.audit.targets)."""

from __future__ import annotations

from typing import Any

from .targets import resolve_targets

# Keys whose words a plain capitalisation would garble.
KEY_LABELS = {
    "ip": "IP address", "sha256": "SHA-256", "id": "ID", "url": "URL", "key_id": "Key fingerprint",
    "seq": "Sequence", "head_seq": "Head sequence", "head_hash": "Head hash",
}
MAX_VALUE = 300


def humanise_key(key: str) -> str:
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    words = str(key).replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:] if words else str(key)


def humanise_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(humanise_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{humanise_key(k)}: {humanise_value(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def detail_items(details: Any) -> list[tuple[str, str]]:
    """[(label, value)] for a definition list; a non-dict value is one "Details" entry."""
    if details in (None, "", {}, []):
        return []
    if not isinstance(details, dict):
        return [("Details", humanise_value(details))]
    return [(humanise_key(k), humanise_value(v)) for k, v in details.items()]


def present_events(events: list[Any]) -> list[Any]:
    """Attach `detail_items` and `target` to each event of a page (one query per target kind)."""
    targets = resolve_targets(events)
    for event in events:
        event.detail_items = detail_items(event.details)
        event.target = targets.get((event.object_type, event.object_id))
    return events
