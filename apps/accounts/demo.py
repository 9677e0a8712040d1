"""Demo people and teams. Everyone's password is `demo`."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group

from .models import Team, TeamMembership, User
from .roles import ensure_roles

TEAMS = [
    ("payments", "Payments", "payments-lead"),
    ("identity", "Identity & Access", "identity-lead"),
    ("storefront", "Storefront", "storefront-lead"),
    ("data-platform", "Data Platform", "data-lead"),
    ("mobile", "Mobile", "mobile-lead"),
    ("infrastructure", "Infrastructure", "infra-lead"),
]

# username, first, last, roles, team, team role
PEOPLE = [
    ("alice", "Alice", "Nguyen", ["requester"], "payments", "member"),
    ("bob", "Bob", "Okafor", ["cab_member", "approver"], "infrastructure", "member"),
    ("carol", "Carol", "Lindqvist", ["approver"], "identity", "member"),
    ("dave", "Dave", "Moreau", ["approver"], "data-platform", "member"),
    ("erin", "Erin", "Kowalski", ["auditor"], None, None),
    ("frank", "Frank", "Adeyemi", ["executive"], None, None),
    ("grace", "Grace", "Park", ["access_admin"], None, None),
    ("heidi", "Heidi", "Brandt", ["release_manager", "cab_member"], "infrastructure", "member"),
    ("payments-lead", "Priya", "Raman", ["requester", "approver"], "payments", "lead"),
    ("identity-lead", "Ibrahim", "Haddad", ["requester", "approver"], "identity", "lead"),
    ("storefront-lead", "Sofia", "Esposito", ["requester", "approver"], "storefront", "lead"),
    ("data-lead", "Daniel", "Fischer", ["requester", "approver"], "data-platform", "lead"),
    ("mobile-lead", "Mei", "Tanaka", ["requester", "approver"], "mobile", "lead"),
    ("infra-lead", "Olu", "Balogun", ["requester", "approver", "cab_member"], "infrastructure", "lead"),
    ("paul", "Paul", "Schmidt", ["requester"], "payments", "member"),
    ("sam", "Sam", "Rivera", ["requester"], "storefront", "member"),
    ("tara", "Tara", "Singh", ["requester"], "mobile", "member"),
    ("victor", "Victor", "Costa", ["requester"], "identity", "member"),
    ("wendy", "Wendy", "Hughes", ["requester"], "data-platform", "member"),
    ("yusuf", "Yusuf", "Demir", ["requester"], "infrastructure", "member"),
]

DEMO_LOGINS = [
    ("alice", "engineer, requester (Payments)"), ("bob", "CAB member"), ("carol", "security approver"),
    ("dave", "DBA approver"), ("erin", "auditor"), ("frank", "executive"), ("grace", "access admin"),
    ("heidi", "release manager"), ("yusuf", "platform engineer (Infrastructure)"), ("admin", "superuser"),
]


# The demo organisation predates its year of history: people joined (and their team) this long
# before the seed time, so nothing reads "joined … today" (the records and their history rows).
JOINED_DAYS_AGO = 730


def seed(ctx) -> None:
    ensure_roles()
    joined = ctx.now - timedelta(days=JOINED_DAYS_AGO)
    groups = {g.name: g for g in Group.objects.all()}
    for slug, name, _ in TEAMS:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            team = Team(slug=slug, name=name, email=f"{slug}@example.test")
            team._history_date = joined
            team.save()
        ctx.teams[slug] = team
    for index, (username, first, last, roles, team_slug, team_role) in enumerate(PEOPLE):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=first, last_name=last, email=f"{username}@example.test",
                        date_joined=joined)
            user.set_password("demo")
            user._history_date = joined
            user.save()
            user.groups.set([groups[r] for r in roles])
        if team_slug and not TeamMembership.objects.filter(team=ctx.teams[team_slug], user=user).exists():
            # Everyone joined long before the demo's grants (a year and more ago, a week apart in
            # PEOPLE order, so reruns agree): a membership stamped "now" made every access-review
            # item say "joined <team> today".
            member_since = ctx.now - timedelta(days=JOINED_DAYS_AGO + 7 * index)
            membership = TeamMembership(team=ctx.teams[team_slug], user=user, role=team_role,
                                        joined_at=member_since)
            membership._history_date = member_since
            membership.save()
        ctx.users[username] = user
    for slug, _, lead in TEAMS:
        team = ctx.teams[slug]
        if team.lead_id is None:
            team.lead = ctx.users[lead]
            team.save(update_fields=["lead"])
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User.objects.create_superuser("admin", "admin@example.test", "demo", first_name="Ada", last_name="Admin")
    ctx.users["admin"] = admin
    bot = User.objects.filter(username="ci-bot").first()
    if bot is None:
        bot = User(username="ci-bot", first_name="CI", last_name="pipeline", kind=User.Kind.SERVICE_ACCOUNT,
                   owner_team=ctx.teams["infrastructure"], email="ci-bot@example.test")
        bot.set_unusable_password()
        bot.save()
    ctx.users["ci-bot"] = bot
    ctx.say(f"{len(ctx.teams)} teams, {User.objects.filter(kind=User.Kind.HUMAN).count()} people, service account ci-bot")
