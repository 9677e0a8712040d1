"""What an audit event's target reads as, and where it links: "Change CHG-003647" to the
change's page instead of `changes.changerequest:3647`.

A small registry keyed by model label. Targets are loaded per model in one query each
(`resolve_targets`), so a page of events costs at most one query per registered kind, whatever
its length. Models are found by label through the app registry, never imported: audit sits at
the bottom of the layers and stays importable by every app.

A target whose object is gone (purged, deleted) or whose kind is not registered reads as its
model's name and id, with the text recorded at the time, and has no link.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps as django_apps
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class TargetKind:
    fields: tuple[str, ...]                 # what the label and URL need (loaded with .only)
    label: Callable[[Any], str]
    url_name: str = ""                      # empty: the object has no page of its own
    url_args: Callable[[Any], tuple] = lambda obj: (obj.pk,)
    key: str = "pk"                         # the field object_id holds


REGISTRY: dict[str, TargetKind] = {
    "changes.changerequest": TargetKind(("number",), lambda o: f"Change {o.number}", "changes:detail",
                                        lambda o: (o.number,)),
    "delivery.deployment": TargetKind(("version",), lambda o: f"Deployment #{o.pk} ({o.version})",
                                      "delivery:deployment"),
    "delivery.artifact": TargetKind(("version",), lambda o: f"Artifact #{o.pk} ({o.version})", "delivery:artifact"),
    "incidents.incident": TargetKind(("title",), lambda o: f"Incident INC-{o.pk}: {o.title}", "incidents:detail"),
    "releases.release": TargetKind(("name",), lambda o: f"Release {o.name}", "releases:detail"),
    "catalog.service": TargetKind(("slug", "name"), lambda o: f"Service {o.name}", "catalog:service",
                                  lambda o: (o.slug,)),
    "access_reviews.reviewcampaign": TargetKind(("name",), lambda o: f"Access review: {o.name}",
                                                "access_reviews:campaign"),
    "audit.evidencepack": TargetKind(("title",), lambda o: f"Evidence pack #{o.pk}: {o.title}"),
}


@dataclass(frozen=True)
class Target:
    label: str
    url: str = ""
    raw: str = ""  # "changes.changerequest:3647", for the auditor who searches by it


def _fallback_label(object_type: str, object_id: str) -> str:
    try:
        name = str(django_apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        name = object_type.rsplit(".", 1)[-1].replace("_", " ")
    name = name[:1].upper() + name[1:]
    return f"{name} #{object_id}" if object_id else name


def _load(object_type: str, ids: set[str]) -> dict[str, Any]:
    kind = REGISTRY[object_type]
    try:
        model = django_apps.get_model(object_type)
    except LookupError:
        return {}
    keys = [i for i in ids if i.isdigit() and len(i) <= 18] if kind.key == "pk" else list(ids)
    if not keys:
        return {}
    rows = model._default_manager.filter(**{f"{kind.key}__in": keys}).only(*kind.fields)
    return {str(getattr(obj, kind.key)): obj for obj in rows}


def resolve_targets(events: Iterable[Any]) -> dict[tuple[str, str], Target]:
    """(object_type, object_id) → Target for these events: one query per registered kind present."""
    wanted: dict[str, set[str]] = defaultdict(set)
    events = list(events)
    for event in events:
        if event.object_type in REGISTRY and event.object_id:
            wanted[event.object_type].add(event.object_id)
    loaded = {object_type: _load(object_type, ids) for object_type, ids in wanted.items()}
    resolved: dict[tuple[str, str], Target] = {}
    for event in events:
        key = (event.object_type, event.object_id)
        if key in resolved or not event.object_type:
            continue
        raw = f"{event.object_type}:{event.object_id}" if event.object_id else event.object_type
        obj = loaded.get(event.object_type, {}).get(event.object_id)
        if obj is None:
            resolved[key] = Target(_fallback_label(*key), raw=raw)
            continue
        kind = REGISTRY[event.object_type]
        url = ""
        if kind.url_name:
            try:
                url = reverse(kind.url_name, args=kind.url_args(obj))
            except NoReverseMatch:  # an app not installed here
                url = ""
        resolved[key] = Target(kind.label(obj), url=url, raw=raw)
    return resolved
