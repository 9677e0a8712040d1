"""The changes app's own section on the change page (collect_sections("change_sections")): the
maintenance window the change is planned into, its stakeholder SLA and whether the change keeps it."""

from __future__ import annotations

from .schedule import change_schedule


def sections(request, change) -> list[dict]:
    schedule = change_schedule(change)
    if not schedule["windows"]:
        return []
    return [{"title": "Maintenance window and its SLA", "template": "changes/sections/change_window_sla.html",
             "order": 20, "data": schedule}]
