"""The configured OpenID Connect provider: its settings (read from the environment by
releaseportal/settings.py) and its discovery document, fetched from
`<issuer>/.well-known/openid-configuration` when first needed and kept for
OIDC_DISCOVERY_CACHE_SECONDS in this process.

A discovery document is accepted only when its `issuer` is exactly the configured one (OpenID
Connect Discovery 1.0, section 4.3): a document that names another issuer is refused, so is every
token whose `iss` differs (apps/sso/backends.py)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings

REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class DiscoveryError(Exception):
    """The provider's discovery document could not be fetched or is not acceptable."""


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str
    client_id: str
    scopes: str
    groups_claim: str
    provider_name: str
    sign_algo: str
    timeout: int

    @property
    def client_secret(self) -> str:
        """Read when needed (never kept on the object): a mounted secret file may be rotated."""
        path = settings.OIDC_CLIENT_SECRET_FILE
        if path:
            return Path(path).read_text(encoding="utf-8").strip()
        return settings.OIDC_CLIENT_SECRET


def sso_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def provider_settings() -> ProviderSettings:
    issuer = settings.OIDC_ISSUER.rstrip("/")
    return ProviderSettings(
        issuer=issuer, client_id=settings.OIDC_CLIENT_ID, scopes=settings.OIDC_SCOPES,
        groups_claim=settings.OIDC_GROUPS_CLAIM,
        provider_name=settings.OIDC_PROVIDER_NAME or urlsplit(issuer).hostname or "single sign-on",
        sign_algo=settings.OIDC_SIGN_ALGO, timeout=settings.OIDC_TIMEOUT_SECONDS)


_cache: dict[str, tuple[float, dict]] = {}
_cache_lock = threading.Lock()


def provider_metadata() -> dict:
    """The discovery document of the configured issuer (cached). Raises DiscoveryError."""
    config = provider_settings()
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(config.issuer)
        if cached is not None and cached[0] > now:
            return cached[1]
    metadata = _fetch(config)
    with _cache_lock:
        _cache[config.issuer] = (now + settings.OIDC_DISCOVERY_CACHE_SECONDS, metadata)
    return metadata


def forget_metadata() -> None:
    """Drop the cached documents (tests; a provider that rotated its endpoints)."""
    with _cache_lock:
        _cache.clear()


def _fetch(config: ProviderSettings) -> dict:
    url = f"{config.issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=config.timeout)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"the discovery document at {url} could not be read ({type(exc).__name__})") from exc
    if not isinstance(metadata, dict):
        raise DiscoveryError(f"the discovery document at {url} is not a JSON object")
    if metadata.get("issuer") != config.issuer:
        raise DiscoveryError(f"the discovery document at {url} names the issuer {metadata.get('issuer')!r}, "
                             f"not the configured {config.issuer!r}")
    missing = [name for name in REQUIRED_ENDPOINTS if not metadata.get(name)]
    if missing:
        raise DiscoveryError(f"the discovery document at {url} has no {', '.join(missing)}")
    return metadata
