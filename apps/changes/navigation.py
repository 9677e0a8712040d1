from releaseportal.navigation import NavItem

ITEMS = [
    NavItem("Changes", "changes:list", order=10, match_prefix="/changes/"),
    NavItem("My changes", "changes:mine", order=10, match_prefix="/changes/mine/"),
    NavItem("Waiting for me", "changes:queue", roles=("approver", "cab_member", "release_manager"), order=11,
            match_prefix="/changes/queue/"),
    NavItem("Calendar", "changes:calendar", order=12, match_prefix="/changes/calendar/"),
]
