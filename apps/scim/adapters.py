"""django-scim2 adapters: how a person (accounts.User) and a team (accounts.Team) read as SCIM
resources, and how SCIM writes reach apps/scim/services.py. The library's adapters save models
directly; these never do: every write goes through a service with the SCIM service account as
the actor, and a refusal becomes a SCIM error (RFC 7644 §3.12), never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.urls import reverse
from django_scim import constants, exceptions
from django_scim.adapters import SCIMGroup, SCIMUser
from django_scim.models import SCIMServiceProviderConfig

from releaseportal.errors import PortalError

from . import operations, services
from .models import ProvisionedTeam, ProvisionedUser

SCIM_TYPES = {"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath", "noTarget",
              "invalidValue", "invalidVers", "sensitive"}


def base_location(request=None, *args, **kwargs) -> str:
    """Resource locations are absolute URLs on SITE_URL (the portal's public address)."""
    parts = urlsplit(settings.SITE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def call_service(function: Callable, **kwargs) -> Any:
    """Run a service; its refusal becomes the SCIM error of the same status."""
    try:
        return function(**kwargs)
    except PortalError as exc:
        scim_type = exc.code if exc.code in SCIM_TYPES else None
        if exc.status == 409:
            raise exceptions.IntegrityError(exc.message, scim_type=scim_type or "uniqueness") from exc
        raise exceptions.SCIMException(exc.message, status=exc.status, scim_type=scim_type) from exc


def _require_object(d: Any) -> None:
    if not isinstance(d, dict):
        raise operations.bad("The body must be a JSON object.", "invalidSyntax")


def _one_to_one(obj, name: str):
    # select_related fills the reverse one-to-one (or its absence) without a query.
    try:
        return getattr(obj, name)
    except (ProvisionedUser.DoesNotExist, ProvisionedTeam.DoesNotExist):
        return None


class PortalUserAdapter(SCIMUser):
    id_field = "pk"
    url_name = "scim:user"

    def __init__(self, obj, request=None):
        super().__init__(obj, request=request)
        self._fields: dict[str, Any] = {}

    @property
    def path(self) -> str:
        return reverse("scim:user", kwargs={"uuid": self.id})

    @property
    def actor(self):
        return self.request.user

    @property
    def emails(self) -> list[dict]:
        return [{"value": self.obj.email, "primary": True, "type": "work"}] if self.obj.email else []

    @property
    def groups(self) -> list[dict]:
        groups = []
        for membership in self.obj.memberships.all():
            adapter = PortalGroupAdapter(membership.team, request=self.request)
            groups.append({"value": adapter.id, "$ref": adapter.location, "display": membership.team.name})
        return groups

    def to_dict(self) -> dict:
        link = _one_to_one(self.obj, "scim_link")
        return {
            "schemas": [constants.SchemaURI.USER],
            "id": self.id,
            "externalId": (link.external_id or None) if link else None,
            "userName": self.obj.username,
            "name": {"givenName": self.obj.first_name, "familyName": self.obj.last_name,
                     "formatted": self.name_formatted},
            "displayName": self.display_name,
            "emails": self.emails,
            "active": self.obj.is_active,
            "groups": self.groups,
            "meta": self.meta,
        }

    def validate_dict(self, d: Any) -> None:
        _require_object(d)

    def from_dict(self, d: dict) -> None:
        name = d.get("name") or {}
        if not isinstance(name, dict):
            raise operations.bad("name must be an object with givenName and familyName.")
        self._fields = {
            "username": d.get("userName"),
            "first_name": name.get("givenName") or "",
            "last_name": name.get("familyName") or "",
            "email": operations.primary_email(d.get("emails")),
            "external_id": d.get("externalId") or "",
        }
        if "active" in d:
            self._fields["is_active"] = operations.as_bool(d["active"])

    def save(self) -> None:
        if self.obj.pk is None:
            self.obj = call_service(services.scim_user_create, actor=self.actor, fields=self._fields)
        else:
            self.obj = call_service(services.scim_user_update, actor=self.actor, user=self.obj,
                                    fields=self._fields, replace=True)

    def delete(self) -> None:
        call_service(services.scim_user_deactivate, actor=self.actor, user=self.obj)

    def handle_operations(self, ops: Any) -> None:
        fields = operations.user_patch_fields(ops)
        self.obj = call_service(services.scim_user_update, actor=self.actor, user=self.obj, fields=fields)


class PortalGroupAdapter(SCIMGroup):
    id_field = "pk"
    url_name = "scim:group"

    def __init__(self, obj, request=None):
        super().__init__(obj, request=request)
        self._body: dict[str, Any] = {}

    @property
    def path(self) -> str:
        return reverse("scim:group", kwargs={"uuid": self.id})

    @property
    def actor(self):
        return self.request.user

    @property
    def members(self) -> list[dict]:
        members = []
        for membership in self.obj.memberships.all():
            user = membership.user
            # Only the people SCIM manages: a service account in the team is not the provider's.
            if user.kind != user.Kind.HUMAN or user.is_superuser:
                continue
            adapter = PortalUserAdapter(user, request=self.request)
            members.append({"value": adapter.id, "$ref": adapter.location, "display": adapter.display_name})
        return members

    def to_dict(self) -> dict:
        link = _one_to_one(self.obj, "scim_link")
        return {
            "schemas": [constants.SchemaURI.GROUP],
            "id": self.id,
            "externalId": (link.external_id or None) if link else None,
            "displayName": self.obj.name,
            "members": self.members,
            "meta": self.meta,
        }

    def validate_dict(self, d: Any) -> None:
        _require_object(d)

    def from_dict(self, d: dict) -> None:
        self._body = {"display_name": d.get("displayName"), "external_id": str(d.get("externalId") or ""),
                      "members": operations.member_ids(d.get("members"))}

    def save(self) -> None:
        body = self._body
        if self.obj.pk is None:
            self.obj = call_service(services.scim_group_create, actor=self.actor, display_name=body["display_name"],
                                    external_id=body["external_id"], member_ids=body["members"])
        else:
            self.obj = call_service(services.scim_group_update, actor=self.actor, team=self.obj,
                                    display_name=body["display_name"], external_id=body["external_id"],
                                    members=body["members"])

    def delete(self) -> None:
        call_service(services.scim_group_empty, actor=self.actor, team=self.obj)

    def handle_operations(self, ops: Any) -> None:
        patch = operations.group_patch(ops)
        self.obj = call_service(services.scim_group_update, actor=self.actor, team=self.obj,
                                display_name=patch.display_name, external_id=patch.external_id,
                                members=patch.members, add=patch.add, remove=patch.remove)


class PortalServiceProviderConfig(SCIMServiceProviderConfig):
    """What this provider supports, said truthfully: PATCH and filters, no bulk, sort, ETags or
    password changes (people sign in through single sign-on)."""

    @property
    def location(self) -> str:
        return urljoin(base_location(self.request), reverse("scim:service-provider-config"))

    def to_dict(self) -> dict:
        return {
            "schemas": [constants.SchemaURI.SERVICE_PROVIDER_CONFIG],
            "documentationUri": None,
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": settings.SCIM_MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
                "description": "An API token of a service account, minted with the scope 'scim'.",
            }],
            "meta": self.meta,
        }
