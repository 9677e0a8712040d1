"""The demo's single sign-on group mapping: the groups an identity provider (Okta, Entra ID,
Keycloak) would send, mapped to roles and teams, imported as policy the way an access admin does
(one audit event listing the diff). Signing in stays local in the demo until OIDC_ISSUER is set."""

from __future__ import annotations

from .models import GroupMapping
from .policy import apply_import, plan_import

MAPPING = """\
version: 1
group_mappings:
  - group: rp-engineers-payments
    roles: [requester]
    teams: [payments]
  - group: rp-engineers-storefront
    roles: [requester]
    teams: [storefront]
  - group: rp-approvers
    roles: [approver]
    teams: []
  - group: rp-cab
    roles: [cab_member, approver]
    teams: []
  - group: rp-release-managers
    roles: [release_manager]
    teams: [infrastructure]
  - group: rp-audit
    roles: [auditor]
    teams: []
  - group: rp-security-admins
    roles: [access_admin]
    teams: []
"""


def seed(ctx) -> None:
    if GroupMapping.objects.exists():
        return
    diff = apply_import(plan_import(MAPPING), actor=ctx.users["grace"])
    ctx.say(f"single sign-on group mapping: {len(diff)} rows")
