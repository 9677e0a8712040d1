"""Agenda groups on the CAB meeting page (apps.changes: `cab_agenda` extension point): the
changes a release brought to the meeting are listed under the release's name. One query."""

from __future__ import annotations

from .cab_reviews import agenda_groups


def groups(meeting, agenda) -> dict[int, str]:
    return agenda_groups(meeting, [item.change_id for item in agenda])
