from django.urls import path

from . import signoff_views

urlpatterns = [
    path("validation/deployments/<int:pk>/log-review/sign-off/", signoff_views.log_review_sign_off,
         name="log_review_sign_off"),  # canary
]
