"""Each person reads times in their own timezone (User.time_zone, chosen on the profile page)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from releaseportal.templatetags.portal import viewer_time_zone


class UserTimeZoneMiddleware:
    """Pages give times in the signed-in person's timezone. Only how times read changes (the
    `when`/`day`/`when_tag` filters): Django's active timezone stays the portal's, so due dates,
    business days and calendar days are the same whoever asks, and the API keeps its instants."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        if not request.path.startswith("/api/"):
            user = getattr(request, "user", None)
            name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
            if name:
                try:
                    zone = ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    zone = None
        if zone is None:
            return self.get_response(request)
        with viewer_time_zone(zone):
            return self.get_response(request)
