from django.urls import path

from . import api, canary_api

urlpatterns = [
    path("services/<slug:service>/health-policy/<slug:env>/", api.HealthPolicyApi.as_view(),
         name="api-health-policy"),
    path("services/<slug:service>/rollback-webhook/", api.RollbackWebhookApi.as_view(), name="api-rollback-webhook"),
    path("deployments/<int:pk>/metrics/", api.DeploymentMetricsApi.as_view(), name="api-deployment-metrics"),
    path("deployments/<int:pk>/checks/", api.DeploymentChecksApi.as_view(), name="api-deployment-checks"),
    path("deployments/<int:pk>/verdict/", api.DeploymentVerdictApi.as_view(), name="api-deployment-verdict"),
    path("deployments/<int:pk>/canary-analysis/", canary_api.CanaryAnalysisApi.as_view(),
         name="api-deployment-canary-analysis"),  # canary
    path("deployments/<int:pk>/log-review/", canary_api.LogReviewApi.as_view(), name="api-deployment-log-review"),  # canary
    path("annotations/", canary_api.AnnotationsApi.as_view(), name="api-annotations"),  # canary
]
