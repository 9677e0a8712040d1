from django.urls import path

from . import views

urlpatterns = [
    path("incidents/", views.incident_list, name="list"),
    path("incidents/new/", views.incident_create, name="create"),
    path("incidents/reviews/", views.review_list, name="reviews"),
    path("incidents/action-items/", views.action_item_list, name="action_items"),
    path("incidents/action-items/<int:item_id>/status/", views.action_item_status, name="action_item_status"),
    path("incidents/patterns/", views.patterns, name="patterns"),
    path("incidents/subscriptions/<slug:slug>/", views.subscription_toggle, name="subscription"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/updates/", views.incident_post_update, name="post_update"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="edit"),
    path("incidents/<int:pk>/link/", views.incident_link, name="link"),
    path("incidents/<int:pk>/attachments/", views.incident_attach, name="attach"),
    path("incidents/<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("incidents/<int:pk>/rollbacks/", views.incident_rollback, name="rollback"),
    path("incidents/<int:pk>/review/start/", views.review_start, name="review_start"),
    path("incidents/<int:pk>/review/", views.review_detail, name="review"),
    path("incidents/<int:pk>/review/action-items/", views.action_item_add, name="action_item_add"),
    path("runbooks/", views.runbook_list, name="runbooks"),
    path("runbooks/<slug:slug>/", views.runbook_detail, name="runbook"),
    path("runbooks/<slug:slug>/steps/", views.runbook_step_add, name="runbook_step_add"),
    path("runbooks/<slug:slug>/tests/", views.runbook_test_add, name="runbook_test_add"),
]
