"""django-simple-history, configured once for every governed model.

`governed_history()` is what a model declares (`history = governed_history()`); each history
row records the acting user or service account and the kind of actor (user, service account,
task, command, system) with its label, whichever way the change came in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import QuerySet
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from .actor import ACTOR_KINDS, Actor, acting_as, current_actor, resolve_actor


class ActorStampedHistory(models.Model):
    history_actor_kind = models.CharField(max_length=20, choices=[(k, k) for k in ACTOR_KINDS], default="system")
    history_actor_label = models.CharField(max_length=150, default="", blank=True)

    class Meta:
        abstract = True


def _explicit_actor(instance: Any) -> Actor | None:
    """The actor a service stamped on this very instance (`history_stamp`), if any."""
    actor = getattr(instance, "_history_actor", None)
    if actor is not None:
        return actor
    user = getattr(instance, "_history_user", None)
    if user is None:
        return None
    scoped = current_actor(default_system=False)
    if scoped is not None and scoped.user is not None and scoped.user.pk == user.pk:
        return scoped  # the same person, acting through a task or command: keep its kind and label
    return Actor.for_user(user)


def _history_actor(instance: Any) -> Actor:
    """Who a history row names, most explicit first: the actor stamped on the instance, the actor
    of the enclosing `atomic_as` (a service's own transaction) or `acting_as` (a task, a command),
    the signed-in user of the request, and only when nobody at all is known, `system`."""
    return _explicit_actor(instance) or current_actor(default_system=False) or Actor.system()


def history_user_getter(instance=None, request=None, **kwargs):
    # `_stamp_actor` settles the user, kind and label together (and falls back to `system`).
    actor = _explicit_actor(instance) or current_actor(default_system=False)
    return actor.user if actor is not None else None


def governed_history(**kwargs) -> HistoricalRecords:
    kwargs.setdefault("bases", [ActorStampedHistory])
    kwargs.setdefault("get_user", history_user_getter)
    kwargs.setdefault("cascade_delete_history", False)
    return HistoricalRecords(**kwargs)


def history_stamp(obj: Any, actor: Actor | Any) -> Actor:
    """Name `actor` on the history row the next save or delete of `obj` writes (Zulip's
    acting_user). Returns the resolved actor."""
    if actor is None:
        raise TypeError("history_stamp needs the acting user or Actor, not None")
    resolved = resolve_actor(actor)
    obj._history_actor = resolved
    obj._history_user = resolved.user
    return resolved


@contextmanager
def atomic_as(actor: Actor | Any) -> Iterator[Actor]:
    """A service's transaction, acting as the actor the service was given: every history row
    written inside it (its own saves, rows made with `objects.create`, cascades, nested services)
    names that actor, whichever request, task or command is running. Yields the resolved actor."""
    if actor is None:
        raise TypeError("atomic_as needs the acting user or Actor, not None")
    resolved = resolve_actor(actor)
    with transaction.atomic(), acting_as(resolved):
        yield resolved


def _stamp_actor(sender, history_instance, **kwargs) -> None:
    if not hasattr(history_instance, "history_actor_kind"):
        return
    actor = _history_actor(kwargs.get("instance"))
    # The user, kind and label always come from one actor, so they never disagree.
    history_instance.history_user = actor.user
    history_instance.history_actor_kind = actor.kind
    history_instance.history_actor_label = actor.label[:150]


pre_create_historical_record.connect(_stamp_actor, dispatch_uid="rp_stamp_history_actor")


# --- Bulk writes bypass simple-history's signals: they stamp the actor on history rows here. ----

def history_attrs(actor: Actor | Any) -> tuple[Any, dict[str, str]]:
    resolved = resolve_actor(actor)
    return resolved.user, {"history_actor_kind": resolved.kind, "history_actor_label": resolved.label[:150]}


def history_copy_rows(rows: QuerySet, *, actor: Actor | Any, when: datetime, reason: str, history_type: str) -> int:
    """One INSERT … SELECT: a history row for every row of `rows` as it is stored now, stamped with
    the actor, the time and the reason. Every tracked column is copied, so each row is what
    simple-history would have written one object at a time."""
    resolved = resolve_actor(actor)
    model = rows.model
    history = model.history.model
    qn = connection.ops.quote_name
    # Fields the history leaves out (excluded_fields, e.g. a grant's last_used_at) are not copied.
    tracked = {f.name: f for f in history._meta.concrete_fields}
    copied = [(qn(tracked[f.name].column), qn(f.column)) for f in model._meta.concrete_fields if f.name in tracked]
    stamp = {
        "history_date": history._meta.get_field("history_date").get_db_prep_value(when, connection),
        "history_change_reason": reason[:100],
        "history_type": history_type,
        "history_user_id": resolved.user.pk if resolved.user is not None else None,
        "history_actor_kind": resolved.kind,
        "history_actor_label": resolved.label[:150],
    }
    ids_sql, ids_params = rows.order_by().values("pk").query.sql_with_params()
    columns = ", ".join([target for target, _ in copied] + [qn(name) for name in stamp])
    values = ", ".join([source for _, source in copied] + ["%s"] * len(stamp))
    pk = qn(model._meta.pk.column)
    # Table and column names come from the models; values are parameters.
    sql = (f"INSERT INTO {qn(history._meta.db_table)} ({columns}) "  # noqa: S608
           f"SELECT {values} FROM {qn(model._meta.db_table)} WHERE {pk} IN ({ids_sql}) ORDER BY {pk}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*stamp.values(), *ids_params])
        return cursor.rowcount


def history_copy_many(model, pks: list[int], *, actor: Actor | Any, when: datetime, reason: str,
                      chunk: int = 1000) -> None:
    """history_copy_rows ("~", changed) for a list of rows, a thousand at a time."""
    for start in range(0, len(pks), chunk):
        history_copy_rows(model.objects.filter(pk__in=pks[start:start + chunk]), actor=actor, when=when,
                          reason=reason, history_type="~")
