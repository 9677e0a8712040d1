from django.urls import path

from . import retros_views, templates_views, views

urlpatterns = [
    path("releases/templates/", templates_views.template_registry, name="templates"),
    path("releases/templates/<slug:slug>/versions/", templates_views.template_version_propose,
         name="template_version_propose"),
    path("releases/templates/<slug:slug>/versions/<str:version>/approve/", templates_views.template_version_approve,
         name="template_version_approve"),
    path("releases/templates/<slug:slug>/versions/<str:version>/deprecate/",
         templates_views.template_version_deprecate, name="template_version_deprecate"),
    path("releases/templates/<slug:slug>/versions/<str:version>/adopt/", templates_views.template_adopt,
         name="template_adopt"),
    path("releases/retrospectives/", retros_views.retro_list, name="retros"),
    path("releases/<int:pk>/issues/new/", retros_views.user_issue_new, name="issue_new"),
    # trains and releases (trains)
    path("releases/", views.release_list, name="list"),
    path("releases/<int:pk>/", views.release_detail, name="detail"),
    path("releases/<int:pk>/progress/", views.release_progress, name="progress"),
    path("releases/<int:pk>/changes/", views.release_add_change, name="add_change"),
    path("releases/cab/", views.release_cab, name="cab_add"),
    path("releases/<int:pk>/move/", views.release_move, name="move"),
    path("releases/<int:pk>/exceptions/", views.exception_request, name="exception_request"),
    path("releases/<int:pk>/exceptions/<int:exception_id>/sign/", views.exception_sign, name="exception_sign"),
    path("releases/trains/", views.train_list, name="trains"),
    path("releases/trains/<slug:slug>/", views.train_detail, name="train"),
    path("changes/<str:ref>/strategy/", views.strategy_choose, name="strategy"),
    path("changes/<str:ref>/off-cadence/", views.off_cadence_justify, name="justify"),
    path("changes/<str:ref>/checkpoints/<int:checkpoint_id>/waive/", views.checkpoint_waive, name="waive"),
]
