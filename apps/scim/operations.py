"""SCIM PATCH operations (RFC 7644 §3.5.2) read into what the services take: the user fields to
set, the team's name and the members to add or remove. The forms the common identity providers
send are understood (a path per operation, or no path and a value object; `active` as a boolean
or the strings "True"/"False"; `emails[type eq "work"].value`; `members[value eq "42"]`);
an attribute path this portal does not hold is refused naming it (scimType invalidPath)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django_scim import exceptions

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user:"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group:"
OPS = ("add", "replace", "remove")
# Derived from the names (or the display name of the team): accepted and ignored.
DERIVED_USER_PATHS = {"displayname", "name.formatted"}
EMAIL_VALUE = re.compile(r'^emails\[type eq "[a-z]+"\]\.value$')
MEMBER_FILTER = re.compile(r'^members\[value eq "([^"]*)"\]$', re.IGNORECASE)


def bad(detail: str, scim_type: str = "invalidValue") -> exceptions.BadRequestError:
    return exceptions.BadRequestError(detail, scim_type=scim_type)


def _operations(operations: Any):
    if not isinstance(operations, list) or not operations:
        raise bad("Operations must be a non-empty list.", "invalidSyntax")
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad("Each operation must be an object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in OPS:
            raise bad(f"Unknown PATCH op {operation.get('op')!r}: one of add, replace, remove.", "invalidSyntax")
        path, value = operation.get("path"), operation.get("value")
        if path is not None and not isinstance(path, str):
            raise bad("path must be a string.", "invalidPath")
        if not path:
            if op == "remove":
                raise bad("A remove operation needs a path.", "noTarget")
            if not isinstance(value, dict):
                raise bad("An operation without a path needs an object as its value.", "invalidSyntax")
            for key, item in value.items():
                yield op, key, item
        else:
            yield op, path, value


def as_bool(value: Any, label: str = "active") -> bool:
    if isinstance(value, bool):
        return value
    # Entra ID sends "True"/"False" as strings.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad(f"{label} must be true or false.")


def primary_email(value: Any) -> str:
    if value in (None, "", []):
        return ""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise bad("emails must be a list of objects with a value.")
    ordered = sorted(value, key=lambda e: not e.get("primary"))
    email = ordered[0].get("value")
    if not isinstance(email, str):
        raise bad("emails[].value must be a string.")
    return email


def _name(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad("name must be an object with givenName and familyName.")
    return {"first_name": value.get("givenName") or "", "last_name": value.get("familyName") or ""}


def user_patch_fields(operations: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for op, path, value in _operations(operations):
        key = path.strip()
        if key.lower().startswith(USER_URN):
            key = key[len(USER_URN):]
        lowered = key.lower()
        removing = op == "remove"
        if lowered in DERIVED_USER_PATHS:
            continue
        if lowered == "username":
            if removing:
                raise bad("userName cannot be removed.", "mutability")
            fields["username"] = value
        elif lowered == "name":
            fields.update({"first_name": "", "last_name": ""} if removing else _name(value))
        elif lowered == "name.givenname":
            fields["first_name"] = "" if removing else value
        elif lowered == "name.familyname":
            fields["last_name"] = "" if removing else value
        elif lowered == "active":
            if removing:
                raise bad("active cannot be removed.", "mutability")
            fields["is_active"] = as_bool(value)
        elif lowered == "emails":
            fields["email"] = "" if removing else primary_email(value)
        elif EMAIL_VALUE.match(lowered):
            fields["email"] = "" if removing else value
        elif lowered == "externalid":
            fields["external_id"] = "" if removing else value
        else:
            raise bad(f"Unknown attribute path {path!r}.", "invalidPath")
    return fields


def member_ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise bad("members must be a list of objects with a value (a user id).")
    ids = []
    for member in value:
        raw = member.get("value") if isinstance(member, dict) else None
        ids.append(user_id(raw))
    return ids


def user_id(raw: Any) -> int:
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise bad(f"members[].value {raw!r} is not a user id.")
    return int(text)


@dataclass
class GroupPatch:
    display_name: Any = None
    external_id: str | None = None
    members: list[int] | None = None
    add: list[int] = field(default_factory=list)
    remove: list[int] = field(default_factory=list)


def group_patch(operations: Any) -> GroupPatch:
    patch = GroupPatch()
    for op, path, value in _operations(operations):
        key = path.strip()
        if key.lower().startswith(GROUP_URN):
            key = key[len(GROUP_URN):]
        lowered = key.lower()
        matched = MEMBER_FILTER.match(key)
        if matched:
            if op != "remove":
                raise bad("Only remove takes a filtered members path.", "invalidPath")
            patch.remove.append(user_id(matched.group(1)))
        elif lowered == "members":
            if op == "add":
                patch.add.extend(member_ids(value))
            elif op == "remove":
                # Without a value, remove means every member (RFC 7644 §3.5.2.2).
                if value is None:
                    patch.members = []
                else:
                    patch.remove.extend(member_ids(value))
            else:
                patch.members = member_ids(value)
        elif lowered == "displayname":
            if op == "remove":
                raise bad("displayName cannot be removed.", "mutability")
            patch.display_name = value
        elif lowered == "externalid":
            patch.external_id = "" if op == "remove" else str(value or "")
        elif lowered == "id":
            continue  # some providers echo the id back; it never changes
        else:
            raise bad(f"Unknown attribute path {path!r}.", "invalidPath")
    return patch
