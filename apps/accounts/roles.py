"""Global roles (Django groups) and the API scopes each role may hold."""

from __future__ import annotations

REQUESTER = "requester"
APPROVER = "approver"
CAB_MEMBER = "cab_member"
RELEASE_MANAGER = "release_manager"
AUDITOR = "auditor"
EXECUTIVE = "executive"
ACCESS_ADMIN = "access_admin"
# The sign-offs a release train may require on a scope exception (apps.releases).
PRODUCT_OWNER = "product_owner"
SECURITY_OFFICER = "security_officer"
OPERATIONS_LEAD = "operations_lead"

ROLES = {
    REQUESTER: "Files change requests and follows them to production",
    APPROVER: "Approves or rejects changes in the stages they are named for",
    CAB_MEMBER: "Sits on the change advisory board",
    RELEASE_MANAGER: "Plans windows and freezes, authorises emergency changes",
    AUDITOR: "Reads the audit trail and exports evidence packs",
    EXECUTIVE: "Reads the DORA dashboard and the monthly report",
    ACCESS_ADMIN: "Runs access reviews and manages deployment privileges",
    PRODUCT_OWNER: "Signs scope exceptions of release trains for product",
    SECURITY_OFFICER: "Signs scope exceptions of release trains for security",
    OPERATIONS_LEAD: "Signs scope exceptions of release trains for operations",
}

SCOPES = {
    "catalog:read": "Read services and environments",
    "catalog:write": "Edit services you administer",
    "changes:read": "Read change requests",
    "changes:write": "Create, submit and decide change requests",
    "delivery:read": "Read artifacts, deployments and gate decisions",
    "delivery:write": "Post artifacts, evidence, deployments and gate checks",
    "incidents:read": "Read incidents",
    "incidents:write": "Create and update incidents",
    "reports:read": "Read DORA and release metrics",
    "access:read": "Read privileges and access review campaigns",
    "access:write": "Grant and revoke privileges",
    "audit:read": "Read the audit log and evidence packs",
    "evidence:write": "Request evidence packs",
    "releases:write": "Plan releases and trains, sign scope exceptions",
    "scim": "Provision people and teams over SCIM 2.0 (/scim/v2/; service accounts only)",
    "notifications:read": "Read your teams' chat channels and their deliveries",
    "notifications:write": "Set your teams' chat channels (Slack, Microsoft Teams)",
}
# Scopes a token carries only when asked for by name: a token minted without a list of scopes
# ("every scope the account may hold") never includes them. A pipeline's token must not be able
# to deactivate people because its account happens to be a service account.
OPT_IN_SCOPES = {"scim"}

_BASE = {"catalog:read", "changes:read", "delivery:read", "incidents:read"}
ROLE_SCOPES: dict[str, set[str]] = {
    REQUESTER: {"changes:write", "incidents:write", "catalog:write"},
    APPROVER: {"changes:write"},
    CAB_MEMBER: {"changes:write"},
    RELEASE_MANAGER: {"changes:write", "delivery:write", "incidents:write", "reports:read", "catalog:write",
                      "releases:write"},
    AUDITOR: {"audit:read", "evidence:write", "reports:read", "access:read"},
    EXECUTIVE: {"reports:read"},
    ACCESS_ADMIN: {"access:read", "access:write"},
    PRODUCT_OWNER: {"releases:write"},
    SECURITY_OFFICER: {"releases:write"},
    OPERATIONS_LEAD: {"releases:write"},
}
# A team lead (the team's `lead`, or a member with the role "lead") reads their team's metrics
# and sets its chat channels; which team is decided by apps/reports/permissions.py and
# apps/notifications/permissions.py.
TEAM_LEAD_SCOPES = {"reports:read", "notifications:read", "notifications:write"}
SERVICE_ACCOUNT_SCOPES = _BASE | {"changes:write", "delivery:write", "incidents:write", "catalog:write", "scim"}


def allowed_scopes(user, wanted: str | None = None) -> set[str]:
    """Every scope a token of this user may carry. A caller that checks one scope passes it as
    `wanted`: the team-lead lookup (a query) then runs only when that scope is a lead's."""
    if user.is_superuser:
        return set(SCOPES)
    if user.is_service_account:
        return set(SERVICE_ACCOUNT_SCOPES)
    scopes = set(_BASE)
    for role in user.role_names():
        scopes |= ROLE_SCOPES.get(role, set())
    if (wanted is None or wanted in TEAM_LEAD_SCOPES) and not scopes >= TEAM_LEAD_SCOPES and _leads_a_team(user):
        scopes |= TEAM_LEAD_SCOPES
    return scopes


def _leads_a_team(user) -> bool:
    if not hasattr(user, "_leads_a_team"):
        from .models import Team

        user._leads_a_team = Team.objects.led_by(user).exists()
    return user._leads_a_team


def ensure_roles() -> None:
    """Create the role groups if missing (a test database flush removes migration data)."""
    from django.contrib.auth.models import Group

    for name in ROLES:
        Group.objects.get_or_create(name=name)
