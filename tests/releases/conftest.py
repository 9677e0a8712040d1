"""Release planning fixtures: a train with three services, sign-off holders, changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.delivery.conftest import (  # noqa: F401  (fixtures shared with the gate tests)
    _fast_passwords,
    change_type,
    deployer,
    ed25519_key,
    make_artifact,
    make_change,
    pipeline,
    prod_policy,
    promoted,
)
from tests.delivery.test_gate import check, good_artifact  # noqa: F401  (fixtures of the gate tests)


@pytest.fixture
def services_three(service, team):
    """payments-api (the `service` fixture), ledger and web."""
    from tests.factories import ServiceFactory

    ledger = ServiceFactory(slug="ledger", name="Ledger", owner_team=team, tier=2, compliance_scopes=["sox"])
    web = ServiceFactory(slug="web", name="Web", owner_team=team, tier=3)
    return {"payments-api": service, "ledger": ledger, "web": web}


@pytest.fixture
def signers(roles_ready, other_team):
    from tests.factories import UserFactory

    return {"product": UserFactory(username="pat", roles=("product_owner",), team=other_team, first_name="Pat"),
            "security": UserFactory(username="sid", roles=("security_officer",), team=other_team, first_name="Sid"),
            "operations": UserFactory(username="opal", roles=("operations_lead",), team=other_team,
                                      first_name="Opal")}


@pytest.fixture
def train(release_manager, services_three, clock):
    from apps.releases import services

    clock("2026-06-16 10:00")
    return services.train_create(actor=release_manager, slug="core", name="Core platform", cadence="continuous",
                                 reason="stability", signoff_roles=["product", "security", "operations"],
                                 owners=[release_manager], services=list(services_three.values()))


@pytest.fixture
def release(train, release_manager, services_three):
    from apps.releases import services

    now = timezone.now()
    return services.release_create(actor=release_manager, name="June release", train=train,
                                   planned_start=now + timedelta(days=2), scope_lock_at=now + timedelta(days=1),
                                   services=list(services_three.values()))
