from releaseportal.navigation import NavItem

ITEMS = [NavItem("Change types", "change_types:list", order=14, match_prefix="/change-types/")]
