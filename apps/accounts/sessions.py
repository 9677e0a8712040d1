"""The session engine (settings.SESSION_ENGINE): Django's database sessions, stored in
PortalSession with the signed-in account's id beside the encoded data. Every save writes it, so
a key cycled at sign-in or at a password change is still found by `sessions_end_for`."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls):
        from .models import PortalSession

        return PortalSession

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        try:
            session.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            session.user_id = None
        return session


def sessions_end_for(user) -> int:
    """End every browser session of `user` now (one DELETE, however many sessions there are).
    Returns how many there were."""
    from .models import PortalSession

    deleted, _ = PortalSession.objects.filter(user=user).delete()
    return deleted
