from releaseportal.navigation import NavItem

# Every member may be a reviewer (team leads are not a role) and sees their own grants.
ITEMS = [NavItem("Access reviews", "access_reviews:reviews", order=80, match_prefix="/access/")]
