from apps.accounts.roles import ACCESS_ADMIN
from releaseportal.navigation import NavItem

ITEMS = [NavItem("Single sign-on", "sso:group_mapping", roles=(ACCESS_ADMIN,), order=82, match_prefix="/sso/")]
