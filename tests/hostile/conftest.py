"""Hostile-input tests reuse the delivery fixtures (pipeline token, changes, artifacts)."""

from tests.delivery.conftest import *  # noqa: F403 — fixtures by name
