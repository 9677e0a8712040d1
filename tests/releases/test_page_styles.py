"""The release pages look like the rest of the portal: every text input is styled (it says its
type), record lists carry no bullets, a form card does not stick to the table above it, and a
phone gets no sideways scroll (found by walking the pages as their users)."""

from __future__ import annotations

import re

import pytest

from apps.releases.models import PipelineTemplate


@pytest.fixture
def manager(client, release_manager):
    client.force_login(release_manager)
    return client


@pytest.mark.django_db
def test_every_text_input_on_the_release_pages_says_its_type(manager, release, signers, make_change, clock,
                                                             release_manager):
    """The portal's stylesheet styles inputs by type; an input without one rendered as a bare
    browser box beside the styled ones."""
    from apps.releases import services

    services.release_transition(release=release, to_state="scope_locked", actor=release_manager)
    services.scope_exception_request(release=release, change=make_change(state="approved", env="prod"),
                                     reason="hotfix", actor=release_manager)
    manager.force_login(signers["product"])  # the sign-off form
    pages = [manager.get(f"/releases/{release.pk}/").content.decode()]
    manager.force_login(release_manager)
    PipelineTemplate.objects.create(slug="std", name="Standard")
    pages += [manager.get(url).content.decode() for url in ("/releases/", f"/releases/{release.pk}/",
                                                             "/releases/templates/")]
    inputs = [tag for html in pages for tag in re.findall(r"<input\b[^>]*>", html)]
    assert len(inputs) > 10
    assert [tag for tag in inputs if "type=" not in tag] == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_release_pages_are_styled_and_hold_at_phone_width(page, browser_login, release, release_manager,
                                                             make_change):
    from apps.releases import services

    services.release_transition(release=release, to_state="scope_locked", actor=release_manager)
    services.scope_exception_request(release=release, change=make_change(state="approved", env="prod"),
                                     reason="hotfix", actor=release_manager)
    browser_login("remy")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"/releases/{release.pk}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # The exception's sign-offs and the services are lists of records, not bulleted prose.
        styles = page.eval_on_selector_all("ul.plain", "els => els.map(e => getComputedStyle(e).listStyleType)")
        assert styles and set(styles) == {"none"}
        # The change and reason inputs carry the portal's input style, like the selects beside them.
        for field in ("#add-change", "#exc-change"):
            assert page.eval_on_selector(field, "e => getComputedStyle(e).borderTopColor") == "rgb(185, 192, 203)"
        page.goto("/releases/")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.eval_on_selector("#r-name", "e => getComputedStyle(e).borderTopColor") == "rgb(185, 192, 203)"
        gap = page.evaluate("""() => document.querySelector('section[aria-labelledby=plan-h]').getBoundingClientRect().top
                               - document.querySelector('table.data').getBoundingClientRect().bottom""")
        assert gap >= 8
