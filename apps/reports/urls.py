from django.urls import path

from . import views

urlpatterns = [
    path("reports/", views.dashboard, name="dashboard"),
    path("reports/teams/<slug:slug>/", views.team_detail, name="team"),
    path("reports/services/<slug:slug>/", views.service_detail, name="service"),
    path("reports/runs/", views.run_list, name="runs"),
    path("reports/runs/generate/", views.run_generate, name="generate"),
    path("reports/runs/<int:pk>/pdf/", views.run_pdf, name="run-pdf"),
    path("reports/runs/<int:pk>/data/", views.run_data, name="run-data"),
]
