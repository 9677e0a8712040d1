"""django-simple-history, configured once for every governed model.

`governed_history()` is what a model declares (`history = governed_history()`); each history
row records the acting user or service account and the kind of actor (user, service account,
task, command, system) with its label, whichever way the change came in."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from .actor import ACTOR_KINDS, current_actor


class ActorStampedHistory(models.Model):
    history_actor_kind = models.CharField(max_length=20, choices=[(k, k) for k in ACTOR_KINDS], default="system")
    history_actor_label = models.CharField(max_length=150, default="", blank=True)

    class Meta:
        abstract = True


def history_user_getter(instance=None, request=None, **kwargs):
    actor = current_actor(default_system=False)
    if actor is not None:
        return actor.user
    return None


def governed_history(**kwargs) -> HistoricalRecords:
    kwargs.setdefault("bases", [ActorStampedHistory])
    kwargs.setdefault("get_user", history_user_getter)
    kwargs.setdefault("cascade_delete_history", False)
    return HistoricalRecords(**kwargs)


def _stamp_actor(sender, history_instance, **kwargs) -> None:
    if not hasattr(history_instance, "history_actor_kind"):
        return
    explicit_user = getattr(kwargs.get("instance"), "_history_user", None)
    actor = current_actor(default_system=False)
    if explicit_user is not None and (actor is None or actor.user is None or actor.user.pk != explicit_user.pk):
        from .actor import Actor

        actor = Actor.for_user(explicit_user)
    if actor is None:
        from .actor import Actor

        actor = Actor.system()
        history_instance.history_user = actor.user
    history_instance.history_actor_kind = actor.kind
    history_instance.history_actor_label = actor.label[:150]


pre_create_historical_record.connect(_stamp_actor, dispatch_uid="rp_stamp_history_actor")
