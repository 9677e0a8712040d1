from django.urls import path

from . import views

urlpatterns = [
    path("services/", views.service_list, name="services"),
    path("services/<slug:slug>/", views.service_detail, name="service"),
    path("environments/", views.environment_list, name="environments"),
]
