"""What counts as a secret in configuration, and how one is kept without being kept.

A configuration value is a *clear secret* when it is not a reference (`vault://…`, `ssm:…`,
`aws-sm://…`, `azure-kv://…`, `gcp-sm://…`, `env://…`) and any of these holds:

- the key is marked `secret` (in the request or in the approved baseline);
- the key is named like a secret: contains PASSWORD, SECRET or TOKEN, or ends in _KEY
  (case-insensitive);
- the value looks like a credential to the maintained `detect-secrets` library (Yelp): its
  pattern plugins (AWS, GitHub, GitLab, Slack, Stripe, private keys, JWTs, basic-auth
  credentials in URLs, …), its keyword plugin on `KEY = "value"` and its base64 high-entropy
  plugin at the library's default limit, run in-process on the value.

Its hex high-entropy plugin is left out on purpose: image digests, checksums and commit SHAs are
ordinary, approved configuration values, and a 40- or 64-digit hex string is what that plugin
flags. Its "Public IP" plugin is left out too (an address is not a credential).

A baseline refuses a clear secret (`secret_value_refused`); an observation keeps only its SHA-256
`fingerprint` (plain SHA-256 of the UTF-8 value, so a pipeline can record the expected
fingerprint with `sha256sum`; shown masked, first 8 hex digits, never in full).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

REFERENCE_PREFIXES = ("vault://", "ssm:", "aws-sm://", "azure-kv://", "gcp-sm://", "env://")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$", re.IGNORECASE)
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
# Detector plugins (detect-secrets secret types) left out, with the reason in the docstring.
_EXCLUDED_DETECTORS = {"Hex High Entropy String", "Public IP (ipv4)"}


def is_reference(value: str) -> bool:
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES) and len(value) > len("ssm:")


def key_named_like_secret(key: str) -> bool:
    return bool(_SECRET_NAME.search(key))


@lru_cache(maxsize=1)
def _detectors() -> tuple:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    return tuple(cls() for secret_type, cls in sorted(get_mapping_from_secret_type_to_class().items())
                 if secret_type not in _EXCLUDED_DETECTORS)


def looks_like_credential(key: str, value: str) -> bool:
    """Whether detect-secrets' plugins flag `value` (as the value of `key`)."""
    if not value or len(value) < 6:
        return False
    line = f'{key} = "{value}"'
    for plugin in _detectors():
        if plugin.analyze_line(filename="configuration", line=line, line_number=1):
            return True
    return False


def is_clear_secret(key: str, value: str, *, marked_secret: bool) -> bool:
    """A value that must never be stored as it is (see the module docstring)."""
    if not isinstance(value, str) or is_reference(value):
        return False
    if marked_secret or key_named_like_secret(key):
        return True
    return looks_like_credential(key, value)


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_fingerprint(value: str) -> bool:
    return isinstance(value, str) and bool(_FINGERPRINT.match(value))


def masked(fingerprint_hex: str) -> str:
    """How a fingerprint is shown: enough to tell two apart, not enough to guess from."""
    return f"sha256:{fingerprint_hex[:8]}…"
