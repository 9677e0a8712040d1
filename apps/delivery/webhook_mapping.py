"""What GitHub and GitLab deliveries mean for us: which service and environment they name."""

from __future__ import annotations

from apps.catalog.models import Environment, Service

ENVIRONMENT_ALIASES = {
    "production": "prod", "prod": "prod", "live": "prod",
    "staging": "staging", "stage": "staging", "preprod": "staging",
    "development": "dev", "dev": "dev", "test": "dev",
}


def service_for_repository(*, names: list[str], default: Service | None) -> Service | None:
    """The service whose repository URL ends with the repository's full name, else the default."""
    wanted = [n.lower().rstrip("/").removesuffix(".git") for n in names if n]
    if wanted:
        for service in Service.objects.exclude(repository_url="").only("id", "slug", "repository_url"):
            url = service.repository_url.lower().rstrip("/").removesuffix(".git")
            if any(url == w or url.endswith("/" + w) for w in wanted):
                return service
    return default


def environment_named(name: str) -> Environment | None:
    key = (name or "").strip().lower()
    if not key:
        return None
    slug = ENVIRONMENT_ALIASES.get(key, key)
    return (Environment.objects.filter(slug=slug).first() or Environment.objects.filter(name__iexact=key).first())
