"""Extension points: an app contributes to shared pages and schedules by providing an optional
module (`apps/<app>/navigation.py`, `dashboard.py`, `service_sections.py`, `change_sections.py`,
`deployment_sections.py` (delivery's deployment page),
`cab_sections.py`, `cab_agenda.py` (groups of the CAB agenda), `schedules.py`, `demo.py`). This is the one place that finds them."""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType


def portal_apps() -> list[str]:
    from django.conf import settings

    return [label.split(".", 1)[1] for label in settings.INSTALLED_APPS if label.startswith("apps.")]


@cache
def _find(name: str, apps: tuple[str, ...]) -> tuple[tuple[str, ModuleType], ...]:
    found = []
    for app in apps:
        path = f"apps.{app}.{name}"
        try:
            found.append((app, importlib.import_module(path)))
        except ModuleNotFoundError as exc:
            if exc.name != path:  # the module exists but something it imports is missing: a real error
                raise
    return tuple(found)


def app_modules(name: str, apps: list[str] | None = None) -> list[tuple[str, ModuleType]]:
    """(app label, module) for every app that has `apps/<app>/<name>.py`, in the given order
    (INSTALLED_APPS order by default)."""
    return list(_find(name, tuple(apps if apps is not None else portal_apps())))


def collect_sections(name: str, *args) -> list[dict]:
    """Concatenate `<module>.sections(*args)` (or `panels` for dashboards) from every app, by `order`."""
    items: list[dict] = []
    for _, module in app_modules(name):
        items.extend(getattr(module, "panels" if name == "dashboard" else "sections")(*args))
    return sorted(items, key=lambda item: item.get("order", 50))


def collect_groups(name: str, *args) -> dict:
    """Merge `<module>.groups(*args)` (a mapping of item key -> group heading) from every app."""
    merged: dict = {}
    for _, module in app_modules(name):
        merged.update(module.groups(*args))
    return merged
