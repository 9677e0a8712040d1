from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("DORA metrics", "reports:dashboard", roles=("executive", "release_manager", "auditor"), order=80,
            match_prefix="/reports/"),
]
