"""What a report is about: the organisation, one team or one service."""

from __future__ import annotations

from dataclasses import dataclass

from apps.accounts.models import Team
from apps.catalog.models import Service
from releaseportal.errors import InvalidInput


@dataclass(frozen=True)
class Scope:
    level: str  # organisation | team | service
    slug: str = ""
    name: str = "Organisation"
    id: int | None = None
    team_slug: str = ""
    team_id: int | None = None  # a service's owner team

    @property
    def key(self) -> str:
        return "organisation" if self.level == "organisation" else f"{self.level}:{self.slug}"

    def as_dict(self) -> dict:
        data = {"type": self.level, "slug": self.slug or None, "name": self.name}
        if self.level == "service":
            data["team"] = self.team_slug or None
        return data

    def service_ids(self) -> list[int] | None:
        if self.level == "organisation":
            return None
        if self.level == "service":
            return [self.id]
        return list(Service.objects.filter(owner_team_id=self.id).values_list("pk", flat=True))


ORGANISATION = Scope("organisation")


def resolve_scope(*, team: str | None = None, service: str | None = None) -> Scope:
    """The scope named by slugs; unknown slugs are a 400 naming the field."""
    errors: dict[str, list[str]] = {}
    team_obj = svc = None
    if team:
        team_obj = Team.objects.filter(slug=team).values("pk", "slug", "name").first()
        if team_obj is None:
            errors["team"] = [f"No team with the slug '{team}'."]
    if service:
        svc = Service.objects.filter(slug=service).values("pk", "slug", "name", "owner_team__slug",
                                                      "owner_team_id").first()
        if svc is None:
            errors["service"] = [f"No service with the slug '{service}'."]
    if not errors and team_obj and svc and svc["owner_team__slug"] != team_obj["slug"]:
        errors["service"] = [f"The service '{service}' is not owned by the team '{team}'."]
    if errors:
        raise InvalidInput("Unknown scope: " + ", ".join(errors) + ".", code="invalid_scope", fields=errors)
    if svc:
        return Scope("service", svc["slug"], svc["name"], svc["pk"], svc["owner_team__slug"], svc["owner_team_id"])
    if team_obj:
        return Scope("team", team_obj["slug"], team_obj["name"], team_obj["pk"])
    return ORGANISATION
