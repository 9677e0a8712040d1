from __future__ import annotations

from apps.accounts.models import Team

from .models import ChatChannel, ChatDelivery

RECENT_DELIVERIES = 25


def channels_of(team: Team):
    return ChatChannel.objects.filter(team=team).order_by("name", "pk")


def recent_deliveries(team: Team, limit: int = RECENT_DELIVERIES):
    return (ChatDelivery.objects.filter(channel__team=team).select_related("channel")
            .order_by("-created_at", "-pk")[:limit])
