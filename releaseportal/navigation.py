"""Navigation by role. Each app lists its entries in `apps/<app>/navigation.py` as ITEMS; an
entry shows when the user holds one of its roles (or any member, when it names none) and its
URL resolves."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.urls import NoReverseMatch, reverse

from .extensions import app_modules


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[str, ...] = ()
    order: int = 50
    section: str = "main"
    match_prefix: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@cache
def all_items() -> tuple[NavItem, ...]:
    items: list[NavItem] = [NavItem("Dashboard", "home", order=0, match_prefix="/$")]
    for _, module in app_modules("navigation"):
        items.extend(getattr(module, "ITEMS", []))
    return tuple(sorted(items, key=lambda item: (item.order, item.label)))


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    from apps.accounts.permissions import is_portal_member

    if not is_portal_member(user):
        return {"nav_items": []}
    entries = []
    for item in all_items():
        if item.roles and not user.has_role(*item.roles):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        prefix = item.match_prefix or url
        matches = request.path == url if prefix == "/$" else request.path.startswith(prefix)
        entries.append({"label": item.label, "url": url, "active": False, "section": item.section,
                        "_match": (len(prefix) + (1000 if request.path == url else 0)) if matches else -1})
    # Only the most specific entry is current (/changes/queue/ is "Waiting for me", not "Changes").
    best = max(entries, key=lambda e: e["_match"], default=None)
    if best is not None and best["_match"] >= 0:
        best["active"] = True
    return {"nav_items": entries}
