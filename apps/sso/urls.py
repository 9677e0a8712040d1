from django.urls import path

from . import views

urlpatterns = [
    path("account/sso/start/", views.SignInStartView.as_view(), name="start"),
    path("account/sso/callback/", views.SignInCallbackView.as_view(), name="callback"),
    path("sso/group-mapping/", views.group_mapping, name="group_mapping"),
]
