from django.urls import path

from . import api

urlpatterns = [
    path("teams/<slug:slug>/chat-channels/", api.ChannelListCreateApi.as_view(), name="api-chat-channels"),
    path("teams/<slug:slug>/chat-channels/<int:pk>/", api.ChannelDetailApi.as_view(), name="api-chat-channel"),
    path("teams/<slug:slug>/chat-deliveries/", api.DeliveryListApi.as_view(), name="api-chat-deliveries"),
]
