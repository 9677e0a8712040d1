from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Releases", "releases:list", order=35, match_prefix="/releases/"),
]
