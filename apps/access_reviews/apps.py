from django.apps import AppConfig


class AccessReviewsConfig(AppConfig):
    name = "apps.access_reviews"
    label = "access_reviews"
    verbose_name = "Access reviews"
