from django.urls import path

from . import hooks, views

urlpatterns = [
    path("hooks/github/", hooks.github_hook, name="hook-github"),
    path("hooks/gitlab/", hooks.gitlab_hook, name="hook-gitlab"),
    path("delivery/", views.deployment_list, name="deployments"),
    path("delivery/deployments/<int:pk>/", views.deployment_detail, name="deployment"),
    path("delivery/artifacts/<int:pk>/", views.artifact_detail, name="artifact"),
    path("delivery/gate-decisions/", views.gate_decision_list, name="gate-decisions"),
    path("delivery/shared-resources/", views.shared_resource_list, name="shared-resources"),
    path("delivery/reconciliation/", views.reconciliation_view, name="reconciliation"),
    path("delivery/services/<slug:slug>/", views.service_environments, name="service-environments"),
]
