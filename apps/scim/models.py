"""What SCIM adds to the people and teams of apps.accounts: the identity provider's own id for
each (externalId), kept beside them so apps.accounts needs no SCIM columns. A person or team
without a row here was not provisioned over SCIM (or has no externalId); SCIM still manages it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.audit.history import governed_history


class ProvisionedUser(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, primary_key=True, related_name="scim_link")
    external_id = models.CharField(max_length=254, blank=True, db_index=True)
    provisioned_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"SCIM link of {self.user_id} ({self.external_id or 'no externalId'})"


class ProvisionedTeam(models.Model):
    team = models.OneToOneField(Team, on_delete=models.PROTECT, primary_key=True, related_name="scim_link")
    external_id = models.CharField(max_length=254, blank=True, db_index=True)
    provisioned_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    def __str__(self) -> str:
        return f"SCIM link of team {self.team_id} ({self.external_id or 'no externalId'})"
