from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.audit.actor import Actor, acting_as
from releaseportal.errors import PortalError


class Command(BaseCommand):
    help = "Create an API token for a user or service account. The token is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--scopes", default="", help="Comma-separated; default: every scope the account's roles allow")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument("--name", default="", help="What the token is for")

    def handle(self, *args, username, scopes, expires_in_days, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        scope_list = [s.strip() for s in scopes.split(",") if s.strip()] or None
        actor = Actor.for_command("create_api_token")
        try:
            with acting_as(actor):
                token, raw = api_token_create(user=user, actor=actor, name=name or f"CLI token for {username}",
                                              scopes=scope_list, expires_in_days=expires_in_days)
        except PortalError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Created token {token.prefix}… for {username} with scopes {', '.join(token.scopes)}"
                          + (f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""))
        self.stdout.write(raw)
