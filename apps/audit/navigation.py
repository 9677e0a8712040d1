from apps.accounts.roles import AUDITOR
from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Audit workspace", "audit:workspace", roles=(AUDITOR,), order=88, match_prefix="/audit/"),
    NavItem("Audit log", "audit:log", roles=(AUDITOR,), order=90, match_prefix="/audit/log"),
]
