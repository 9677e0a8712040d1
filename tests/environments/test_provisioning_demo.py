"""The environments demo: provisioning history on every environment (one unauthorised production
run), the ledger's migrations across dev, staging and production with one applied in staging but
not in production, imported into the audit log; a second run adds nothing."""

from __future__ import annotations

import io

import pytest

from apps.audit.models import AuditEvent
from apps.audit.verification import verify_chain
from apps.environments.models import AppliedMigration, MigrationMismatch, Provision, ProvisionResource

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_provisioning_and_migrations_once(roles_ready):
    from apps.accounts import demo as accounts_demo
    from apps.catalog import demo as catalog_demo
    from apps.catalog.management.commands.seed_demo import DemoContext
    from apps.delivery import demo as delivery_demo
    from apps.environments import demo

    ctx = DemoContext(seed=7, stdout=io.StringIO())
    for module in (accounts_demo, catalog_demo, delivery_demo, demo):
        module.seed(ctx)
    assert set(Provision.objects.values_list("environment__slug", flat=True)) == {"dev", "staging", "prod"}
    flagged = Provision.objects.get(is_unauthorized=True)
    assert flagged.environment.is_production and flagged.delete_count == 2 and flagged.change is None
    assert ProvisionResource.objects.filter(provision=flagged, action="delete").count() == 2
    ledger = AppliedMigration.objects.filter(service__slug="ledger", status="success")
    assert set(ledger.filter(environment__slug="staging").values_list("version", flat=True)) == set("123456")
    assert set(ledger.filter(environment__slug="prod").values_list("version", flat=True)) == set("12345")
    assert AppliedMigration.objects.filter(environment__slug="staging", version="5", status="failed").exists()
    assert MigrationMismatch.objects.count() == 1
    # The ledger release in production under a change carries 1-5: its change page shows them.
    from apps.delivery.models import Deployment, Evidence
    from apps.environments.change_sections import migration_matrix

    carried = Evidence.objects.filter(kind="migrations").order_by("created_at", "id").first().artifact
    change = Deployment.objects.filter(artifact=carried, environment__slug="prod").exclude(change=None).first().change
    matrix = migration_matrix(change)
    assert [row["version"] for row in matrix["rows"]] == ["1", "2", "3", "4", "5"]
    assert all(cell["state"] == "match" for row in matrix["rows"] for cell in row["cells"])
    events = AuditEvent.objects.filter(action="environments.provision_recorded")
    assert events.count() == Provision.objects.count()
    assert verify_chain().ok
    counts = (Provision.objects.count(), AppliedMigration.objects.count(), AuditEvent.objects.count())
    demo.seed(ctx)
    assert (Provision.objects.count(), AppliedMigration.objects.count(), AuditEvent.objects.count()) == counts
