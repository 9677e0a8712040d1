from django.urls import path

from . import views

urlpatterns = [
    path("teams/notifications/", views.team_list, name="teams"),
    path("teams/<slug:slug>/notifications/", views.team_settings, name="team_settings"),
    path("teams/<slug:slug>/notifications/channels/<int:pk>/", views.channel_edit, name="channel_edit"),
    path("teams/<slug:slug>/notifications/channels/<int:pk>/delete/", views.channel_delete, name="channel_delete"),
]
