"""How configuration is shown on pages, sections and panels: secret values masked (a baseline
secret is a reference: its scheme stays, so a reader sees where it lives, not its path; an
observed secret is already a masked fingerprint), must_match/secret badges."""

from __future__ import annotations

from typing import Any

from .models.config import DriftFinding
from .secrets import REFERENCE_PREFIXES

MASK = "••••••"


def masked_value(value: str) -> str:
    """A secret's value as shown: the reference scheme kept (`vault://••••••`), nothing else."""
    for prefix in REFERENCE_PREFIXES:
        if isinstance(value, str) and value.startswith(prefix):
            return prefix + MASK
    return MASK


def shown_entry(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A baseline entry for a page: its value (masked when secret) and its badges."""
    if entry is None:
        return None
    secret = bool(entry.get("secret"))
    value = str(entry.get("value", ""))
    return {"value": masked_value(value) if secret else value, "secret": secret,
            "must_match": bool(entry.get("must_match"))}


def shown_finding_value(finding: DriftFinding, value: str) -> str:
    """A finding's expected/observed as shown: observed secrets are already masked fingerprints
    (`sha256:1a2b3c4d…`); a secret's expected value is its reference, masked like the diff."""
    if finding.secret and value and not value.startswith("sha256:"):
        return masked_value(value)
    return value


def findings_rows(findings) -> list[dict[str, Any]]:
    return [{"finding": f, "expected": shown_finding_value(f, f.expected), "observed": shown_finding_value(f, f.observed)}
            for f in findings]
