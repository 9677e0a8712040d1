"""Who may see and set a team's chat channels: the team's leads (its `lead`, or a member with
the role "lead") and superusers. Used by the pages and the API alike. An outsider (no role, no
team) is refused before this (member_required and the API's scope check answer 403) and would
get 404 here; a member who does not lead the team gets 403 (teams are no secret: the catalog
names them)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.accounts.models import Team
from apps.accounts.permissions import is_portal_member

from .models import ChatChannel


def can_manage_chat(user, team: Team) -> bool:
    if not is_portal_member(user):
        return False
    if user.is_superuser:
        return True
    if user.is_service_account:
        return False
    return Team.objects.led_by(user).filter(pk=team.pk).exists()


def teams_managed_by(user):
    if not is_portal_member(user):
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.order_by("name")
    if user.is_service_account:
        return Team.objects.none()
    return Team.objects.led_by(user).order_by("name")


def get_team_for_chat(user, slug: str) -> Team:
    """The team whose chat settings `user` may manage, or 404 / PermissionDenied (403)."""
    if not is_portal_member(user):
        raise Http404
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404
    if not can_manage_chat(user, team):
        raise PermissionDenied("Only the team's leads may see or change its chat channels.")
    return team


def get_channel_for_team(team: Team, pk: int) -> ChatChannel:
    channel = ChatChannel.objects.select_related("team").filter(team=team, pk=pk).first()
    if channel is None:
        raise Http404
    return channel
