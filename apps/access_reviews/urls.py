from django.urls import path

from . import views

urlpatterns = [
    path("access/reviews/", views.reviews, name="reviews"),
    path("access/items/<int:pk>/decide/", views.item_decide, name="item-decide"),
    path("access/items/bulk/", views.items_bulk, name="items-bulk"),
    path("access/campaigns/", views.campaign_list, name="campaigns"),
    path("access/campaigns/open/", views.campaign_open, name="campaign-open"),
    path("access/campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("access/campaigns/<int:pk>/close/", views.campaign_close, name="campaign-close"),
    path("access/campaigns/<int:pk>/report.<str:fmt>", views.campaign_report, name="report"),
    path("access/grants/", views.grant_list, name="grants"),
    path("access/grants/new/", views.grant_new, name="grant-new"),
    path("access/grants/<int:pk>/revoke/", views.grant_revoke, name="grant-revoke"),
]
