from django.urls import path

from . import signoff_views, views

urlpatterns = [
    path("validation/deployments/<int:pk>/log-review/sign-off/", signoff_views.log_review_sign_off,
         name="log_review_sign_off"),  # canary
    path("validation/deployments/<int:pk>/sections/", views.deployment_sections_partial,
         name="deployment_sections"),  # valui
]
