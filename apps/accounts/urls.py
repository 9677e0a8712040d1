from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("account/login/", views.LoginView.as_view(), name="login"),
    path("account/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.profile, name="profile"),
    path("account/time-zone/", views.time_zone_set, name="time_zone"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
