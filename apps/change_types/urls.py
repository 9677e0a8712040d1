from django.urls import path

from . import views

urlpatterns = [
    path("change-types/", views.type_list, name="list"),
    path("change-types/templates/", views.template_list, name="templates"),
    path("change-types/templates/<int:pk>/approve/", views.template_approve, name="template_approve"),
    path("change-types/templates/<int:pk>/retire/", views.template_retire, name="template_retire"),
]
