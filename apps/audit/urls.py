from django.urls import path

from . import views

urlpatterns = [
    path("audit/log/", views.audit_log, name="log"),
    path("audit/log.csv", views.audit_log_csv, name="log_csv"),
]
