from django.urls import path

from . import api

urlpatterns = [
    path("access/grants/", api.GrantListApi.as_view(), name="api-access-grants"),
    path("access/grants/<int:pk>/revoke/", api.GrantRevokeApi.as_view(), name="api-access-grant-revoke"),
    path("access/campaigns/", api.CampaignListApi.as_view(), name="api-access-campaigns"),
    path("access/campaigns/<int:pk>/", api.CampaignDetailApi.as_view(), name="api-access-campaign"),
    path("access/items/<int:pk>/decision/", api.ItemDecideApi.as_view(), name="api-access-item-decide"),
]
