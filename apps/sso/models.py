"""Single sign-on records: who an OpenID Connect subject is here, which provider groups confer
which roles and teams (the mapping, kept as policy: apps/sso/policy.py), and which accounts may
still sign in with a password when LOCAL_PASSWORD_LOGIN is "break-glass"."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.accounts.roles import ROLES
from apps.audit.history import governed_history


class OidcIdentity(models.Model):
    """A provider's subject (`iss` + `sub`, never the e-mail address) linked to an account, with
    what the last sign-in brought: the groups claimed and the roles and teams synced from them.
    The roles and teams listed here are the ones the sync answers for: a group gone at the next
    sign-in takes them away."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    groups = models.JSONField(default=list, blank=True)
    synced_roles = models.JSONField(default=list, blank=True)
    synced_teams = models.JSONField(default=list, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        verbose_name = "OpenID Connect identity"
        verbose_name_plural = "OpenID Connect identities"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_oidc_subject")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} ({self.user})"


class GroupMapping(models.Model):
    """One provider group conferring one role or one team membership. A group that confers
    several has several rows."""

    group = models.CharField(max_length=200)
    role = models.CharField(max_length=40, blank=True, choices=[(name, name) for name in ROLES])
    # PROTECT: a team named by the policy is not deleted from under it; change the policy first.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    history = governed_history()

    class Meta:
        ordering = ["group", "role", "team__slug"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(role="", team__isnull=False) | (~models.Q(role="") & models.Q(team__isnull=True))),
                name="group_mapping_role_xor_team"),
            models.UniqueConstraint(fields=["group", "role"], condition=~models.Q(role=""),
                                    name="unique_group_mapping_role"),
            models.UniqueConstraint(fields=["group", "team"], condition=models.Q(team__isnull=False),
                                    name="unique_group_mapping_team"),
        ]

    def __str__(self) -> str:
        return f"{self.group} → {'role ' + self.role if self.role else 'team ' + self.team.slug}"


class BreakGlassAccount(models.Model):
    """An account that may sign in with its password when LOCAL_PASSWORD_LOGIN is "break-glass"."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="break_glass")
    reason = models.CharField(max_length=200)
    flagged_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"{self.user} (break-glass: {self.reason})"
