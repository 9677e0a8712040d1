"""Signals other apps may listen to, so accounts never imports them (DESIGN.md: depend downward)."""

from django.dispatch import Signal

# Sent inside the transaction that removed the membership: team, user, actor.
member_left_team = Signal()
