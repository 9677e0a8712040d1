"""Who may read which metrics, decided here and nowhere else (STYLE.md rule 6).

Executives, release managers and auditors read every scope. A team lead (the team's `lead`,
or a member with the role "lead") reads the team they lead and its services, and nothing of
other teams or of the organisation as a whole. The API additionally needs the token scope
`reports:read`, which apps/accounts/roles.py grants to the same people."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from apps.accounts.permissions import is_portal_member, member_required
from releaseportal.errors import NotAllowed

from .scopes import Scope

ORGANISATION_ROLES = ("executive", "release_manager", "auditor")


@dataclass(frozen=True)
class ReportAccess:
    organisation: bool  # every scope
    team_ids: frozenset[int]  # the teams led (a lead's only scopes)
    team_slugs: tuple[str, ...]  # of those teams, sorted

    @property
    def any(self) -> bool:
        return self.organisation or bool(self.team_ids)

    def allows(self, scope: Scope) -> bool:
        if self.organisation:
            return True
        if scope.level == "team":
            return scope.id in self.team_ids
        if scope.level == "service":
            return scope.team_id in self.team_ids
        return False


NO_ACCESS = ReportAccess(False, frozenset(), ())


def led_teams(user) -> list[tuple[int, str]]:
    """(id, slug) of the teams the user leads, either way a lead is recorded."""
    from apps.accounts.models import Team

    return list(Team.objects.led_by(user).order_by("slug").values_list("pk", "slug"))


def report_access(user) -> ReportAccess:
    if not is_portal_member(user):
        return NO_ACCESS
    if not hasattr(user, "_report_access"):
        if user.has_role(*ORGANISATION_ROLES):
            user._report_access = ReportAccess(True, frozenset(), ())
        else:
            teams = led_teams(user)
            user._report_access = ReportAccess(False, frozenset(pk for pk, _ in teams),
                                               tuple(slug for _, slug in teams))
    return user._report_access


def can_view_reports(user) -> bool:
    return report_access(user).any


def can_view_scope(user, scope: Scope) -> bool:
    return report_access(user).allows(scope)


def check_scope(user, scope: Scope) -> None:
    """For the API: a scope the user may not read is a 403 naming the parameter."""
    if can_view_scope(user, scope):
        return
    field = "team" if scope.level in ("organisation", "team") else "service"
    if scope.level == "organisation":
        reason = "Team leads read their own team's metrics: pass team=<slug> of a team you lead."
    else:
        reason = "You may read only the metrics of the teams you lead and their services."
    raise NotAllowed(reason, code="scope_not_allowed", fields={field: [reason]})


def require_scope(user, scope: Scope) -> None:
    """For the HTML pages: a team or service the user may not read does not exist for them."""
    if not can_view_scope(user, scope):
        raise Http404("No such report scope")


def can_generate_reports(user) -> bool:
    return is_portal_member(user) and user.has_role("executive", "release_manager")


def visible_runs(user, queryset):
    """Stored reports the user may download: all of them, or a lead's teams' reports."""
    access = report_access(user)
    if access.organisation:
        return queryset
    from apps.catalog.models import Service

    their_services = Service.objects.filter(owner_team_id__in=access.team_ids).values("slug")
    return queryset.filter(Q(scope_type="team", scope_slug__in=access.team_slugs)
                           | Q(scope_type="service", scope_slug__in=their_services))


def reports_viewer_required(view):
    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_view_reports(request.user):
            raise PermissionDenied("The reports are for executives, team leads, release managers and auditors.")
        return view(request, *args, **kwargs)

    return wrapped
