from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Deployments", "delivery:deployments", order=40, match_prefix="/delivery/"),
    NavItem("Reconciliation", "delivery:reconciliation", roles=("auditor", "release_manager", "executive"), order=85,
            match_prefix="/delivery/reconciliation/"),
]
