from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Configuration", "environments:config-drift", order=47, match_prefix="/config/"),
]
