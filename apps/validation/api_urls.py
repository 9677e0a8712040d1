from django.urls import path

from . import canary_api

urlpatterns = [
    path("deployments/<int:pk>/canary-analysis/", canary_api.CanaryAnalysisApi.as_view(),
         name="api-deployment-canary-analysis"),  # canary
    path("deployments/<int:pk>/log-review/", canary_api.LogReviewApi.as_view(), name="api-deployment-log-review"),  # canary
    path("annotations/", canary_api.AnnotationsApi.as_view(), name="api-annotations"),  # canary
]
