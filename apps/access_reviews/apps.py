from django.apps import AppConfig


class AccessReviewsConfig(AppConfig):
    name = "apps.access_reviews"
    label = "access_reviews"
    verbose_name = "Access reviews"

    def ready(self) -> None:
        from apps.accounts.signals import member_left_team
        from apps.catalog.signals import privilege_exercised

        from . import receivers

        privilege_exercised.connect(receivers.on_privilege_exercised, dispatch_uid="access_reviews_last_used")
        member_left_team.connect(receivers.on_member_left_team, dispatch_uid="access_reviews_flag_on_leave")
