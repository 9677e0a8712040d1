from django.urls import path

from . import api, retention_api, retros_api, strategy_api, templates_api

urlpatterns = [
    path("retrospectives/", retros_api.RetrospectivesApi.as_view(), name="api-retrospectives"),
    path("retrospectives/<int:pk>/actions/", retros_api.RetroActionsApi.as_view(), name="api-retro-actions"),
    path("retro-actions/<int:pk>/close/", retros_api.RetroActionCloseApi.as_view(), name="api-retro-action-close"),
    path("releases/<int:pk>/issues/", retros_api.ReleaseIssuesApi.as_view(), name="api-release-issues"),
    path("artifact-retention/", retention_api.ArtifactRetentionApi.as_view(), name="api-artifact-retention"),
    path("pipeline-templates/", templates_api.TemplatesApi.as_view(), name="api-pipeline-templates"),
    path("pipeline-templates/<slug:slug>/versions/", templates_api.TemplateVersionsApi.as_view(),
         name="api-pipeline-template-versions"),
    path("pipeline-templates/<slug:slug>/versions/<str:version>/approve/",
         templates_api.TemplateVersionApproveApi.as_view(), name="api-pipeline-template-version-approve"),
    path("pipeline-templates/<slug:slug>/versions/<str:version>/deprecate/",
         templates_api.TemplateVersionDeprecateApi.as_view(), name="api-pipeline-template-version-deprecate"),
    path("services/<slug:service>/pipeline-template/", templates_api.ServiceTemplateApi.as_view(),
         name="api-service-pipeline-template"),
    # trains and releases (trains)
    path("release-trains/", api.TrainListApi.as_view(), name="api-release-trains"),
    path("releases/", api.ReleaseListApi.as_view(), name="api-releases"),
    path("releases/<int:pk>/", api.ReleaseDetailApi.as_view(), name="api-release"),
    path("releases/<int:pk>/changes/", api.ReleaseChangesApi.as_view(), name="api-release-changes"),
    path("releases/<int:pk>/cab/", api.ReleaseCabApi.as_view(), name="api-release-cab"),
    path("releases/<int:pk>/transition/", api.ReleaseTransitionApi.as_view(), name="api-release-transition"),
    path("releases/<int:pk>/scope-exceptions/", api.ScopeExceptionsApi.as_view(), name="api-release-exceptions"),
    path("releases/<int:pk>/scope-exceptions/<int:exception_id>/signoffs/", api.ScopeSignoffApi.as_view(),
         name="api-release-exception-signoffs"),
    path("services/<slug:service>/dependencies/", api.ServiceDependenciesApi.as_view(),
         name="api-service-dependencies"),
    path("changes/<str:ref>/off-cadence-justification/", api.OffCadenceJustificationApi.as_view(),
         name="api-change-off-cadence-justification"),
    path("changes/<str:ref>/strategy/", strategy_api.ChangeStrategyApi.as_view(), name="api-change-strategy"),
    path("compliance-scopes/", api.ComplianceScopesApi.as_view(), name="api-compliance-scopes"),
    path("compliance-scopes/<slug:key>/", api.ComplianceScopeApi.as_view(), name="api-compliance-scope"),
    path("changes/<str:ref>/checkpoint-waivers/", api.CheckpointWaiverApi.as_view(),
         name="api-change-checkpoint-waivers"),
]
