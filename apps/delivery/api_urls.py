from django.urls import path

from . import api

urlpatterns = [
    path("artifacts/", api.ArtifactsApi.as_view(), name="api-artifacts"),
    path("artifacts/<str:digest>/", api.ArtifactDetailApi.as_view(), name="api-artifact"),
    path("artifacts/<str:digest>/evidence/", api.EvidenceCreateApi.as_view(), name="api-artifact-evidence"),
    path("signing-keys/", api.SigningKeysApi.as_view(), name="api-signing-keys"),
    path("gates/check/", api.GateCheckApi.as_view(), name="api-gate-check"),
    path("gates/decisions/", api.GateDecisionListApi.as_view(), name="api-gate-decisions"),
    path("deployments/", api.DeploymentsApi.as_view(), name="api-deployments"),
    path("deployments/<int:pk>/", api.DeploymentDetailApi.as_view(), name="api-deployment"),
]
