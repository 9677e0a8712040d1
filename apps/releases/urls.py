from django.urls import path

from . import templates_views

urlpatterns = [
    path("releases/templates/", templates_views.template_registry, name="templates"),
]
