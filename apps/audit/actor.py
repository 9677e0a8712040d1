"""Who is acting. Browser and API requests act as their user; Celery tasks and management
commands say who they are with `acting_as(...)`, so history rows and audit events always name
a user, a service account, a task or a command, never nobody."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

KIND_USER = "user"
KIND_SERVICE_ACCOUNT = "service_account"
KIND_TASK = "task"
KIND_COMMAND = "command"
KIND_SYSTEM = "system"
ACTOR_KINDS = [KIND_USER, KIND_SERVICE_ACCOUNT, KIND_TASK, KIND_COMMAND, KIND_SYSTEM]


@dataclass(frozen=True)
class Actor:
    user: Any  # accounts.User (a person, a service account or the `system` account)
    kind: str
    label: str

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        kind = KIND_SERVICE_ACCOUNT if getattr(user, "is_service_account", False) else KIND_USER
        if getattr(user, "kind", None) == "system":
            kind = KIND_SYSTEM
        return cls(user=user, kind=kind, label=user.get_username())

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(user=_system_user(), kind=KIND_SYSTEM, label=label)

    @classmethod
    def for_task(cls, task_name: str, *, on_behalf_of: Any = None) -> Actor:
        return cls(user=on_behalf_of or _system_user(), kind=KIND_TASK, label=f"task:{task_name}")

    @classmethod
    def for_command(cls, command_name: str, *, user: Any = None) -> Actor:
        return cls(user=user or _system_user(), kind=KIND_COMMAND, label=f"command:{command_name}")


@dataclass
class RequestContext:
    request_id: str = ""
    ip: str = ""
    request: Any = field(default=None, repr=False)


_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("rp_actor", default=None)
_request_ctx: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("rp_request", default=None)


def _system_user() -> Any:
    from apps.accounts.models import User

    return User.objects.system_account()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


@contextmanager
def request_context(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _request_ctx.set(ctx)
    try:
        yield ctx
    finally:
        _request_ctx.reset(token)


def current_request_context() -> RequestContext | None:
    return _request_ctx.get()


def current_actor(default_system: bool = True) -> Actor | None:
    """The explicit actor if one is set, else the authenticated user of the current request."""
    actor = _actor.get()
    if actor is not None:
        return actor
    ctx = _request_ctx.get()
    user = getattr(getattr(ctx, "request", None), "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor.for_user(user)
    return Actor.system() if default_system else None


def resolve_actor(actor: Actor | Any | None) -> Actor:
    """Services accept a User or an Actor; normalise to an Actor."""
    if actor is None:
        return current_actor()  # type: ignore[return-value]
    if isinstance(actor, Actor):
        return actor
    explicit = _actor.get()
    if explicit is not None and explicit.user is not None and explicit.user.pk == getattr(actor, "pk", None):
        return explicit
    return Actor.for_user(actor)
