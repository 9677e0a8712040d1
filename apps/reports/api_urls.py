from django.urls import path

from . import api

urlpatterns = [
    path("reports/dora/", api.DoraReportApi.as_view(), name="reports-dora"),
]
