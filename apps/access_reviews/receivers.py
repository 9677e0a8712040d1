"""Listeners for signals other apps send (they never import access reviews)."""

from __future__ import annotations

from apps.audit.actor import Actor


def on_privilege_exercised(sender, *, user, privilege, service, environment=None, at=None, **kwargs) -> None:
    from .services import grant_record_use

    if user is None or service is None:
        return
    grant_record_use(user=user, privilege=privilege, service=service, environment=environment, at=at)


def on_member_left_team(sender, *, team, user, actor=None, **kwargs) -> None:
    from .services import grants_flag_for_review

    grants_flag_for_review(user=user, team=team, actor=actor or Actor.system("access_reviews.member_left_team"))
