from django.urls import path

from . import api

urlpatterns = [
    path("evidence-packs/", api.EvidencePackListCreateApi.as_view(), name="api-evidence-packs"),
    path("evidence-packs/keys/", api.SigningKeyListApi.as_view(), name="api-evidence-keys"),
    path("evidence-packs/<int:pk>/", api.EvidencePackDetailApi.as_view(), name="api-evidence-pack"),
    path("evidence-packs/<int:pk>/download/", api.EvidencePackDownloadApi.as_view(),
         name="api-evidence-pack-download"),
]
