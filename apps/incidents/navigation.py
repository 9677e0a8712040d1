from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Incidents", "incidents:list", order=40, match_prefix="/incidents/"),
    NavItem("Runbooks", "incidents:runbooks", order=45, match_prefix="/runbooks/"),
]
