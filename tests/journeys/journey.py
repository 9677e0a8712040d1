"""Every demo persona's journey, in headless Chromium on the seeded demo (issue #16): sign in,
open the home page and every page the navigation offers, at 1366 px and 390 px, with a full-page
screenshot of each. A journey fails on

- horizontal overflow (the document is wider than the viewport),
- any console error or uncaught page error,
- any axe-core violation of WCAG 2.0/2.1 level A or AA,
- any link on those pages that answers 4xx (or 5xx) to the person who was shown it: every
  same-origin href, deduplicated, fetched with the person's session (sign-out and file
  downloads are not followed).

Every problem of a persona is collected and reported together, so one run lists them all.

The tests live in test_personas_delivery.py and test_personas_oversight.py, one half of the
personas each: pytest-xdist runs one file per worker (`make test`), each against a demo
organisation of its own, so the journeys take half the time."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urldefrag, urlparse

# Links the checker does not follow: signing out ends the journey; files are downloads, not pages.
from .crawl import NOT_FOLLOWED

WIDTHS = (1366, 390)
# axe-core's tags for WCAG 2.0 and 2.1, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The demo personas (apps/accounts/demo.py DEMO_LOGINS), each with the role they stand for.
PERSONAS = [
    ("alice", "engineer, requester"),
    ("bob", "CAB member"),
    ("carol", "security approver"),
    ("dave", "DBA approver"),
    ("erin", "auditor"),
    ("frank", "executive"),
    ("grace", "access admin"),
    ("heidi", "release manager"),
    ("yusuf", "platform engineer"),
]


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def _check_page(page, url: str, label: str, width: int, shots: Path, axe: str, problems: list[str]) -> list[str]:
    """Open `url` at `width`; record its problems; return the hrefs it shows."""
    errors: list[str] = []
    on_console = lambda msg: errors.append(msg.text) if msg.type == "error" else None  # noqa: E731
    on_error = lambda exc: errors.append(f"uncaught: {exc}")  # noqa: E731
    page.on("console", on_console)
    page.on("pageerror", on_error)
    try:
        page.set_viewport_size({"width": width, "height": 900})
        response = page.goto(url, wait_until="networkidle")
        where = f"{urlparse(page.url).path} @{width}px"
        if response is None or response.status >= 400:
            problems.append(f"{where}: answered {response.status if response else 'nothing'}")
            return []
        page.screenshot(path=str(shots / f"{label}-{_slug(urlparse(url).path)}-{width}.png"), full_page=True)
        scroll_width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > viewport:
            problems.append(f"{where}: horizontal overflow ({scroll_width}px wide in a {viewport}px viewport)")
        # Evaluated, not added as a <script> element: the Content-Security-Policy runs no inline script.
        page.evaluate(axe)
        result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                               WCAG_TAGS)
        for violation in result["violations"]:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
            problems.append(f"{where}: axe {violation['id']} ({violation['impact']}) — {violation['help']}"
                            f" — {len(violation['nodes'])} node(s), e.g. {targets}")
        for text in errors:
            problems.append(f"{where}: console error — {text}")
        return page.evaluate("Array.from(document.querySelectorAll('a[href]'))"
                             ".filter(a => !a.hasAttribute('download')).map(a => a.href)")
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)


def sign_in(page, username: str) -> None:
    """Sign `username` in with the demo password (any earlier session's cookies dropped)."""
    page.context.clear_cookies()
    page.goto("/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert urlparse(page.url).path == "/", f"{username} could not sign in (at {page.url})"


def persona_journey(_playwright_browser, demo_server, screenshot_dir, username, role):
    """The journey of one persona (see the module's docstring)."""
    context = _playwright_browser.new_context(base_url=demo_server, viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(60000)
    page = context.new_page()
    problems: list[str] = []
    try:
        sign_in(page, username)
        nav = page.evaluate("Array.from(document.querySelectorAll('nav.mainnav a[href]')).map(a => a.href)")
        pages = list(dict.fromkeys([f"{demo_server}/", *nav]))
        axe = _axe_source()
        shown: dict[str, str] = {}  # link -> the page that showed it
        for url in pages:
            for width in WIDTHS:
                for href in _check_page(page, url, username, width, screenshot_dir, axe, problems):
                    link, _ = urldefrag(href)
                    if link.startswith(demo_server) and not NOT_FOLLOWED.search(urlparse(link).path):
                        shown.setdefault(link, urlparse(url).path)
        for link, source in shown.items():
            response = page.request.get(link, max_redirects=5)
            landed = urlparse(response.url).path
            if response.status >= 400:
                problems.append(f"link {urlparse(link).path}{'?' + urlparse(link).query if urlparse(link).query else ''}"
                                f" on {source}: answered {response.status}")
            elif landed.startswith("/account/login/"):
                problems.append(f"link {urlparse(link).path} on {source}: sent {username} to sign in")
    finally:
        context.close()
        # Written as each journey ends, so a long run can be read while it goes on.
        (screenshot_dir / f"{username}-problems.txt").write_text("\n".join(problems) + "\n")
    assert not problems, f"{username} ({role}): {len(problems)} problem(s)\n" + "\n".join(problems)


def every_link_answers(demo_server, username, role):
    """The link checker: beyond the pages the navigation offers (the journey above), every page a
    persona reaches by following links from home, a few of each kind (tests/journeys/crawl.py),
    and every link on them answers 2xx for that person."""
    from django.test import Client

    from apps.accounts.models import User

    from .crawl import crawl

    client = Client()
    client.force_login(User.objects.get(username=username))
    problems, opened = crawl(client)
    assert opened > 20, f"{username} reached only {opened} pages"
    assert not problems, f"{username} ({role}): {len(problems)} broken link(s)\n" + "\n".join(problems)
