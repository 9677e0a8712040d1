from __future__ import annotations

from .models import Environment, Service

ENVIRONMENTS = [("dev", "Development", 10, False), ("staging", "Staging", 20, False), ("prod", "Production", 30, True)]

# slug, name, team, tier, scopes
SERVICES = [
    ("payments-api", "Payments API", "payments", 1, ["sox", "pci"]),
    ("ledger", "General Ledger", "payments", 1, ["sox"]),
    ("card-vault", "Card Vault", "payments", 1, ["pci"]),
    ("payouts", "Payouts", "payments", 2, ["sox", "pci"]),
    ("auth-service", "Authentication Service", "identity", 1, ["sox", "hipaa", "pci"]),
    ("user-profile", "User Profile", "identity", 2, ["hipaa"]),
    ("consent", "Consent Manager", "identity", 2, ["hipaa", "gdpr"]),
    ("sso-gateway", "SSO Gateway", "identity", 2, ["sox"]),
    ("web-store", "Web Store", "storefront", 2, []),
    ("catalog-search", "Catalog Search", "storefront", 3, []),
    ("checkout", "Checkout", "storefront", 1, ["pci"]),
    ("recommendations", "Recommendations", "storefront", 3, []),
    ("data-warehouse", "Data Warehouse", "data-platform", 2, ["sox"]),
    ("etl-pipelines", "ETL Pipelines", "data-platform", 3, ["sox"]),
    ("patient-records", "Patient Records Export", "data-platform", 1, ["hipaa"]),
    ("reporting-api", "Reporting API", "data-platform", 3, []),
    ("ios-app", "iOS App", "mobile", 2, []),
    ("android-app", "Android App", "mobile", 2, []),
    ("mobile-bff", "Mobile BFF", "mobile", 2, ["pci"]),
    ("push-notifications", "Push Notifications", "mobile", 4, []),
    ("k8s-platform", "Kubernetes Platform", "infrastructure", 1, ["sox"]),
    ("api-gateway", "API Gateway", "infrastructure", 1, ["sox", "pci"]),
    ("observability", "Observability Stack", "infrastructure", 3, []),
    ("ci-runners", "CI Runners", "infrastructure", 4, []),
]


def seed(ctx) -> None:
    for slug, name, order, is_prod in ENVIRONMENTS:
        env, _ = Environment.objects.get_or_create(slug=slug, defaults={"name": name, "order": order, "is_production": is_prod})
        ctx.environments[slug] = env
    for slug, name, team, tier, scopes in SERVICES:
        service, _ = Service.objects.get_or_create(slug=slug, defaults={
            "name": name, "owner_team": ctx.teams[team], "tier": tier, "compliance_scopes": scopes,
            "repository_url": f"https://git.example.test/{team}/{slug}",
        })
        ctx.services[slug] = service
    ctx.say(f"{len(ctx.environments)} environments, {len(ctx.services)} services")
