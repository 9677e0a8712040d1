from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.audit.history import governed_history

COMPLIANCE_SCOPES = [("sox", "SOX"), ("hipaa", "HIPAA"), ("pci", "PCI DSS"), ("gdpr", "GDPR"), ("soc2", "SOC 2")]
COMPLIANCE_SCOPE_KEYS = [key for key, _ in COMPLIANCE_SCOPES]


class Service(models.Model):
    class Tier(models.IntegerChoices):
        TIER_1 = 1, "Tier 1 — mission critical"
        TIER_2 = 2, "Tier 2 — business critical"
        TIER_3 = 3, "Tier 3 — business operational"
        TIER_4 = 4, "Tier 4 — administrative"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="services")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.TIER_3,
                                            validators=[MinValueValidator(1), MaxValueValidator(4)])
    compliance_scopes = models.JSONField(default=list, blank=True, help_text="e.g. [\"sox\", \"pci\"]")
    repository_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)

    history = governed_history()

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(tier__gte=1, tier__lte=4), name="service_tier_1_to_4")]
        # Object permissions (django-guardian) on a service; derived from access grants by
        # apps.access_reviews, checked by changes (approve) and delivery (deploy).
        permissions = [
            ("deploy_service", "Can deploy the service to production"),
            ("approve_service_changes", "Can approve production changes to the service"),
            ("administer_service", "Can administer the service"),
        ]

    def __str__(self) -> str:
        return self.name


class Environment(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    order = models.PositiveSmallIntegerField(unique=True, help_text="Promotion order: lower comes first")
    is_production = models.BooleanField(default=False)

    history = governed_history()

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name

    def previous(self) -> Environment | None:
        return Environment.objects.filter(order__lt=self.order).order_by("-order").first()
