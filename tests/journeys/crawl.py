"""The link checker behind every_link_answers in tests/journeys/journey.py (the persona tests):
a breadth-first walk through the Django test client, as one signed-in person, from the home page
through every same-origin link on every page they reach. Every link must answer 2xx (after
redirects) and never send them to sign in.

Pages of one route look alike (CHG-000001 and CHG-003642 are the same template): so at most
`fetch_per_route` links of each route (URL name) are opened, the first ones met, and the links of
every opened HTML page are followed in turn. Downloads and sign-out are not opened (NOT_FOLLOWED)."""

from __future__ import annotations

import re
from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlparse

from django.urls import Resolver404, resolve

NOT_FOLLOWED = re.compile(r"/account/logout/|/download/|/pdf/|/data/|/export/|\.(csv|pdf|zip|ics|json|jsonl|gz)$")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and values.get("href") and "download" not in values:
            self.hrefs.append(values["href"])


def page_links(html: str, base: str) -> list[str]:
    """Same-origin links of a page, as paths with their query, without fragments."""
    parser = _Links()
    parser.feed(html)
    links = []
    for href in parser.hrefs:
        url = urlparse(urldefrag(urljoin("http://testserver" + base, href))[0])
        if url.scheme in ("http", "https") and url.netloc == "testserver" and not NOT_FOLLOWED.search(url.path):
            links.append(url.path + (f"?{url.query}" if url.query else ""))
    return links


def route_of(path: str) -> str:
    try:
        return resolve(urlparse(path).path).view_name
    except Resolver404:
        return urlparse(path).path


def crawl(client, *, start: str = "/", fetch_per_route: int = 3, limit: int = 600) -> tuple[list[str], int]:
    """Walk from `start`; returns (problems, pages opened)."""
    queue: deque[tuple[str, str]] = deque([(start, "(start)")])
    seen = {start}
    per_route: Counter[str] = Counter({route_of(start): 1})
    problems: list[str] = []
    opened = 0
    while queue and opened < limit:
        path, source = queue.popleft()
        response = client.get(path, follow=True)
        opened += 1
        landed = response.request["PATH_INFO"]
        if response.status_code >= 400:
            problems.append(f"{path} (linked from {source}): answered {response.status_code}")
            continue
        if landed.startswith("/account/login/"):
            problems.append(f"{path} (linked from {source}): sent to sign in")
            continue
        if "text/html" not in response.get("Content-Type", "") or response.streaming:
            continue
        for link in page_links(response.content.decode("utf-8", "replace"), landed):
            if link in seen:
                continue
            seen.add(link)
            route = route_of(link)
            if per_route[route] < fetch_per_route:
                per_route[route] += 1
                queue.append((link, path))
    if queue:
        problems.append(f"the walk stopped after {limit} pages with {len(queue)} still to open")
    return problems, opened
