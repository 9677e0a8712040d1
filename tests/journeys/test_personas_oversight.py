"""The journeys and the link checker of the people who oversee (auditor, executive, access admin, release manager): tests/journeys/journey.py."""

from __future__ import annotations

import pytest

from .journey import PERSONAS, every_link_answers, persona_journey

# django_db: pytest-django creates the test database only for sessions with a test marked so;
# each journey runs in a transaction over the module's committed seed (tests/journeys/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

HERE = [p for p in PERSONAS if p[0] in ("erin", "frank", "grace", "heidi")]


@pytest.mark.parametrize(("username", "role"), HERE, ids=[p[0] for p in HERE])
def test_persona_journey(_playwright_browser, demo_server, screenshot_dir, username, role):
    persona_journey(_playwright_browser, demo_server, screenshot_dir, username, role)


@pytest.mark.parametrize(("username", "role"), HERE, ids=[p[0] for p in HERE])
def test_every_link_a_persona_reaches_answers(demo_server, username, role):
    every_link_answers(demo_server, username, role)


def test_every_persona_has_a_journey():
    from . import test_personas_delivery

    assert sorted(test_personas_delivery.HERE + HERE) == sorted(PERSONAS)
