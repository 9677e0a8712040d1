"""What the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY) would refuse in a page:
inline <script>, inline event handlers, javascript: URLs, htmx's hx-on (JS evaluated from an
attribute), <style> elements and style attributes. Used on rendered pages and on template files."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Script types a browser does not execute (data blocks): CSP does not apply to them.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href"}

EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


class _Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        where = f"<{tag}{' id=' + names['id'] if names.get('id') else ''}>"
        if tag == "script" and not names.get("src") and (names.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
            self.problems.append(f"inline <script> without src at line {self.getpos()[0]}")
        if tag == "style":
            self.problems.append(f"<style> element at line {self.getpos()[0]}")
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.problems.append(f"{where} has an inline event handler {name}=")
            elif name.startswith("hx-on"):
                self.problems.append(f"{where} has {name} (htmx evaluates it as JS)")
            elif name == "style":
                self.problems.append(f"{where} has a style attribute")
            elif name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"{where} has a javascript: URL in {name}")


def csp_problems(html: str) -> list[str]:
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.problems
