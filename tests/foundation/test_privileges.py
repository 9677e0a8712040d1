"""The one production-privilege check: guardian object permissions on the service."""

import pytest
from guardian.shortcuts import assign_perm, remove_perm

from apps.catalog.privileges import APPROVER, DEPLOYER, holds_privilege

pytestmark = pytest.mark.django_db


def test_production_needs_the_object_permission(service, environments, approver):
    assert not holds_privilege(approver, APPROVER, service, environments["prod"])
    assign_perm("catalog.approve_service_changes", approver, service)
    assert holds_privilege(approver, APPROVER, service, environments["prod"])
    assert not holds_privilege(approver, DEPLOYER, service, environments["prod"])
    remove_perm("catalog.approve_service_changes", approver, service)
    assert not holds_privilege(approver, APPROVER, service, environments["prod"])


def test_non_production_is_not_gated_by_privileges(service, environments, approver):
    assert holds_privilege(approver, DEPLOYER, service, environments["staging"])


def test_superusers_are_not_exempt_and_inactive_accounts_hold_nothing(service, environments, superuser, approver):
    assert not holds_privilege(superuser, DEPLOYER, service, environments["prod"])
    assign_perm("catalog.deploy_service", approver, service)
    approver.is_active = False
    approver.save()
    assert not holds_privilege(approver, DEPLOYER, service, environments["prod"])
