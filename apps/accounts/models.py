from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history

SYSTEM_USERNAME = "system"


class PortalUserManager(UserManager):
    def system_account(self) -> User:
        user = self.filter(username=SYSTEM_USERNAME).first()
        if user is None:
            user, _ = self.get_or_create(
                username=SYSTEM_USERNAME,
                defaults={"kind": User.Kind.SYSTEM, "is_active": False, "first_name": "Release Portal"},
            )
        return user


class User(AbstractUser):
    class Kind(models.TextChoices):
        HUMAN = "human", "Person"
        SERVICE_ACCOUNT = "service_account", "Service account"
        SYSTEM = "system", "System"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.HUMAN)
    # Service accounts belong to a team that answers for them; people may leave it blank.
    owner_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="service_accounts")

    # The timezone this person reads times in (an IANA name); blank: the portal's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="")

    objects = PortalUserManager()
    history = governed_history(excluded_fields=["last_login", "password"])

    class Meta:
        ordering = ["username"]

    @property
    def is_service_account(self) -> bool:
        return self.kind == self.Kind.SERVICE_ACCOUNT

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def role_names(self) -> set[str]:
        # Cached per instance: navigation and permission checks ask several times per request.
        if not hasattr(self, "_role_names"):
            self._role_names = set(self.groups.values_list("name", flat=True))
        return self._role_names

    def has_role(self, *roles: str) -> bool:
        return self.is_superuser or bool(self.role_names() & set(roles))


class TeamQuerySet(models.QuerySet):
    def led_by(self, user) -> TeamQuerySet:
        """The teams `user` leads, either way a lead is recorded: the team's `lead`, or a
        membership with the role "lead"."""
        return self.filter(models.Q(lead=user) | models.Q(memberships__user=user, memberships__role="lead")).distinct()


class Team(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    lead = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="led_teams")
    email = models.EmailField(blank=True, help_text="Team mailbox for notifications")
    members = models.ManyToManyField(User, through="TeamMembership", related_name="teams")

    objects = TeamQuerySet.as_manager()
    history = governed_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Lead"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 and a short prefix (to recognise it in lists) are kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The token this one was minted with (over the API), if any: a child never outlives or
    # outranks it and dies with it (apps.accounts.services).
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    history = governed_history(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class LoginThrottle(models.Model):
    """The per-username counter of password checks in the current window, taken atomically (one
    conditional UPDATE) before the password is checked: concurrent guesses cannot all read
    "4 failures" and all go ahead."""

    username = models.CharField(max_length=150, unique=True)
    checks = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.username}: {self.checks} since {self.window_started_at:%Y-%m-%d %H:%M}"


class LoginAttempt(models.Model):
    """Browser sign-ins, kept to throttle guessing across every web process."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.CharField(max_length=45, db_index=True)
    succeeded = models.BooleanField()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} {'ok' if self.succeeded else 'failed'}"


class IdempotencyRecord(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class PortalSession(AbstractBaseSession):
    """A browser session (Django's database session, apps/accounts/sessions.py) with its account
    in an indexed column, written on every save of the session: a person's sessions are found
    (and ended, when they leave) by one lookup instead of decoding every session there is."""

    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    @classmethod
    def get_session_store_class(cls):
        from .sessions import SessionStore

        return SessionStore
