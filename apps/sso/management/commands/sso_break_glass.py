from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.audit.actor import Actor, acting_as
from apps.sso.services import break_glass_flag, break_glass_unflag
from releaseportal.errors import PortalError


class Command(BaseCommand):
    help = ("Flag an account break-glass: with LOCAL_PASSWORD_LOGIN=break-glass only flagged accounts may "
            "sign in with a password. --remove takes the flag away.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--reason", default="", help="Why this account keeps its password (required to flag)")
        parser.add_argument("--remove", action="store_true", help="Take the flag away")

    def handle(self, *args, username: str, reason: str, remove: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"username: no account named {username!r}")
        with acting_as(Actor.for_command("sso_break_glass")) as actor:
            if remove:
                removed = break_glass_unflag(user=user, actor=actor)
                self.stdout.write(f"{username}: break-glass flag removed." if removed else f"{username}: was not flagged.")
                return
            try:
                break_glass_flag(user=user, reason=reason, actor=actor)
            except PortalError as exc:
                raise CommandError(f"reason: {exc.message}") from exc
        self.stdout.write(self.style.SUCCESS(f"{username}: may sign in with a password (break-glass)."))
