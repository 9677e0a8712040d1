from releaseportal.navigation import NavItem

ITEMS = [NavItem("Chat notifications", "notifications:teams", order=95, match_prefix="/teams/")]
