from apps.accounts.roles import AUDITOR
from releaseportal.navigation import NavItem

ITEMS = [NavItem("Audit log", "audit:log", roles=(AUDITOR,), order=90, match_prefix="/audit/log")]
