"""The standard classification taxonomy (also seeded by migration 0004, which cannot import this)."""

from __future__ import annotations

TAXONOMY = [
    ("code-defect", "Code defect", True),
    ("configuration-error", "Configuration error", True),
    ("schema-migration", "Schema migration", True),
    ("dependency", "Dependency", True),
    ("capacity", "Capacity", False),
    ("infrastructure", "Infrastructure", False),
    ("third-party", "Third party", False),
    ("security", "Security", False),
    ("data-quality", "Data quality", False),
]


def ensure_taxonomy() -> None:
    """Create missing classifications (a flushed test database or a fresh demo)."""
    from .models import IncidentClassification

    for slug, name, release_related in TAXONOMY:
        IncidentClassification.objects.get_or_create(
            slug=slug, defaults={"name": name, "is_release_related": release_related})
