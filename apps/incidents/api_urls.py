from django.urls import path

from . import api

urlpatterns = [
    path("incidents/", api.IncidentListCreateApi.as_view(), name="api-incidents"),
    path("incidents/<int:pk>/", api.IncidentDetailApi.as_view(), name="api-incident"),
    path("incidents/<int:pk>/updates/", api.IncidentUpdateCreateApi.as_view(), name="api-incident-updates"),
    path("incidents/<int:pk>/rollbacks/", api.IncidentRollbackCreateApi.as_view(), name="api-incident-rollbacks"),
    path("incidents/<int:pk>/attachments/", api.IncidentAttachmentCreateApi.as_view(),
         name="api-incident-attachments"),
    path("incident-classifications/", api.ClassificationListApi.as_view(), name="api-incident-classifications"),
]
