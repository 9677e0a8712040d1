from django.urls import include, path

from . import views

urlpatterns = [
    path("environments/<slug:slug>/", views.environment_detail, name="environment"),
    path("environments/provisions/<int:pk>/", views.provision_detail, name="provision"),
    path("", include("apps.environments.config_urls")),
]
