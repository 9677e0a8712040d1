"""Bulk writes bypass simple-history's signals, so they stamp the actor on history rows here."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from apps.audit.actor import Actor, resolve_actor


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


def update_in_groups(model, values_by_pk: dict[int, dict[str, Any]], *, chunk: int = 1000) -> None:
    """Apply per-row values that few rows differ in: one UPDATE per distinct set of values and
    thousand rows, instead of a CASE per row and field (bulk_update), which takes Django seconds
    per thousand rows to build."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for pk, values in values_by_pk.items():
        groups[tuple(sorted(values.items()))].append(pk)
    for key, pks in groups.items():
        for start in range(0, len(pks), chunk):
            model.objects.filter(pk__in=pks[start:start + chunk]).update(**dict(key))
