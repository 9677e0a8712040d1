from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Releases", "releases:list", order=35, match_prefix="/releases/"),
    NavItem("Pipeline templates", "releases:templates", order=36, match_prefix="/releases/templates/"),
]
