"""Every persona's pages under the Content-Security-Policy (issue #17): for each signed-in persona
of the governance world, the home page, every page the navigation offers, and every same-origin
page those link to (one hop), rendered by the server; the test fails on any inline <script>
without src, any inline event handler (on*=), any hx-on attribute, any javascript: URL, any
<style> element or style attribute (tests/csp_html.py), and on a missing or different policy."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlparse

import pytest

from tests.csp_html import EXPECTED_POLICY, csp_problems, parse_policy
from tests.governance.conftest import HTML_PERSONAS

pytestmark = pytest.mark.django_db

# Not pages: signing out, downloads and exports (as tests/journeys/journey.py), the API.
NOT_FOLLOWED = re.compile(r"^/account/logout/|/download/|/pdf/|/data/|/export/|^/api/|^/admin/|^/media/|^/static/"
                          r"|\.(csv|pdf|zip|ics|json|jsonl|gz)$")


class _Links(HTMLParser):
    def __init__(self, nav_only: bool):
        super().__init__(convert_charrefs=True)
        self.nav_only, self.in_nav, self.hrefs = nav_only, 0, []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "nav" and "mainnav" in (names.get("class") or ""):
            self.in_nav += 1
        if tag == "a" and names.get("href") and "download" not in names and (self.in_nav or not self.nav_only):
            self.hrefs.append(names["href"])

    def handle_endtag(self, tag):
        if tag == "nav" and self.in_nav:
            self.in_nav -= 1


def _links(html: str, base: str, nav_only: bool = False) -> list[str]:
    parser = _Links(nav_only)
    parser.feed(html)
    out = []
    for href in parser.hrefs:
        link, _ = urldefrag(href)
        parsed = urlparse(link)
        if parsed.scheme or parsed.netloc or not link:
            continue
        if not link.startswith("/"):
            link = base.rsplit("/", 1)[0] + "/" + link if not link.startswith("?") else base.split("?")[0] + link
        if not NOT_FOLLOWED.search(urlparse(link).path):
            out.append(link)
    return out


@pytest.mark.parametrize("persona", [p for p in HTML_PERSONAS if p != "anonymous"])
def test_every_page_a_persona_reaches_runs_under_the_policy(world, signed_in, persona):
    client = signed_in[persona]
    problems: list[str] = []
    checked: list[str] = []

    def check(url: str) -> str | None:
        response = client.get(url)
        if parse_policy(response.get("Content-Security-Policy", "")) != EXPECTED_POLICY:
            problems.append(f"{url}: policy {response.get('Content-Security-Policy')!r}")
        if not response["Content-Type"].startswith("text/html"):
            return None
        # A refusal page (403, 404) is a page too; only pages that answered are followed.
        checked.append(f"{url} ({response.status_code})")
        html = response.content.decode()
        problems.extend(f"{url}: {problem}" for problem in csp_problems(html))
        return html if response.status_code == 200 else None

    home = check("/")
    if persona == "outsider":  # no portal role: the refusal page is what they get
        assert home is None and checked == ["/ (403)"] and problems == [], (checked, problems)
        return
    assert home is not None
    main_pages = list(dict.fromkeys(["/", *_links(home, "/", nav_only=True)]))
    linked: list[str] = []
    for url in main_pages[1:]:
        html = check(url)
        if html is not None:
            linked.extend(_links(html, url))
    linked.extend(_links(home, "/"))
    for url in dict.fromkeys(linked):
        if url not in main_pages:
            check(url)
    assert len(checked) >= 4, checked
    assert problems == [], f"{persona}: {len(problems)} problem(s) on {len(checked)} pages\n" + "\n".join(problems)
