from django.urls import path

from . import api

urlpatterns = [
    path("changes/", api.ChangeListCreateApi.as_view(), name="api-changes"),
    path("changes/<str:ref>/", api.ChangeDetailApi.as_view(), name="api-change"),
    path("changes/<str:ref>/submit/", api.ChangeSubmitApi.as_view(), name="api-change-submit"),
    path("changes/<str:ref>/transition/", api.ChangeTransitionApi.as_view(), name="api-change-transition"),
    path("changes/<str:ref>/approvals/", api.ChangeApprovalsApi.as_view(), name="api-change-approvals"),
    path("changes/<str:ref>/emergency-override/", api.ChangeEmergencyOverrideApi.as_view(),
         name="api-change-emergency-override"),
    path("changes/<str:ref>/post-mortem/", api.ChangePostMortemApi.as_view(), name="api-change-post-mortem"),
]
