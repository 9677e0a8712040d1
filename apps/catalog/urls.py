from django.urls import path

from . import views

urlpatterns = [
    path("services/", views.service_list, name="services"),
    path("services/<slug:slug>/", views.service_detail, name="service"),
    path("services/<slug:slug>/edit/", views.service_edit, name="service_edit"),
    path("environments/", views.environment_list, name="environments"),
]
