"""A team's chat channels over the API (team leads and superusers; scope `notifications`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from releaseportal.api.views import PortalAPIView, PortalListAPIView

from .models import ChatDelivery
from .permissions import get_channel_for_team, get_team_for_chat
from .selectors import channels_of
from .serializers import ChannelIn, ChannelOut, DeliveryOut
from .services import chat_channel_create, chat_channel_delete, chat_channel_update


@extend_schema(tags=["notifications"])
class ChannelListCreateApi(PortalListAPIView):
    scope = "notifications"
    serializer_class = ChannelOut

    def get_queryset(self):
        return channels_of(get_team_for_chat(self.request.user, self.kwargs["slug"])).select_related("team")

    @extend_schema(summary="List a team's chat channels")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Add a chat channel (Slack or Microsoft Teams incoming webhook)", request=ChannelIn,
                   responses={201: ChannelOut})
    def post(self, request, slug: str):
        team = get_team_for_chat(request.user, slug)
        data = ChannelIn(data=request.data)
        data.is_valid(raise_exception=True)
        channel = chat_channel_create(team=team, actor=request.user, **data.validated_data)
        return Response(ChannelOut(channel).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["notifications"])
class ChannelDetailApi(PortalAPIView):
    scope = "notifications"

    @extend_schema(summary="Read a chat channel", responses=ChannelOut)
    def get(self, request, slug: str, pk: int):
        return Response(ChannelOut(get_channel_for_team(get_team_for_chat(request.user, slug), pk)).data)

    @extend_schema(summary="Change a chat channel (a blank or missing webhook_url keeps the stored one)",
                   request=ChannelIn, responses=ChannelOut)
    def patch(self, request, slug: str, pk: int):
        channel = get_channel_for_team(get_team_for_chat(request.user, slug), pk)
        data = ChannelIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        channel = chat_channel_update(channel=channel, actor=request.user, **data.validated_data)
        return Response(ChannelOut(channel).data)

    @extend_schema(summary="Remove a chat channel", responses={204: None})
    def delete(self, request, slug: str, pk: int):
        channel = get_channel_for_team(get_team_for_chat(request.user, slug), pk)
        chat_channel_delete(channel=channel, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["notifications"], summary="A team's chat deliveries, newest first (status, attempts, last error)")
class DeliveryListApi(PortalListAPIView):
    scope = "notifications"
    serializer_class = DeliveryOut
    filterset_fields = ["status", "event", "channel"]

    def get_queryset(self):
        team = get_team_for_chat(self.request.user, self.kwargs["slug"])
        return ChatDelivery.objects.filter(channel__team=team).select_related("channel").order_by("-created_at", "-pk")
