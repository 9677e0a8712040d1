from releaseportal.navigation import NavItem

ITEMS = [NavItem("Services", "catalog:services", order=60, match_prefix="/services/")]
