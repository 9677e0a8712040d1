"""The Content-Security-Policy in a real browser (issue #17): htmx-driven pages and Swagger UI
on the seeded demo, in headless Chromium, with nothing refused. Chromium reports every refusal
as a console error naming "Content Security Policy"; the test fails on any of them, and on any
uncaught page error. Swagger UI must render its operations under the policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from .journey import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _swap(page, selector: str) -> None:
    """Pick the select's other option: htmx fetches and swaps a fragment."""
    values = page.eval_on_selector_all(f"{selector} option", "options => options.map(o => o.value)")
    current = page.eval_on_selector(selector, "s => s.value")
    other = next(v for v in values if v != current)
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.select_option(selector, other)
    page.wait_for_load_state("networkidle")


def test_htmx_pages_and_swagger_ui_run_under_the_policy(_playwright_browser, demo_server):
    context = _playwright_browser.new_context(base_url=demo_server, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(60000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"uncaught: {exc}"))
    visited = []
    try:
        sign_in(page, "frank")  # executive: the DORA dashboard swaps its figures with htmx
        page.goto("/reports/", wait_until="networkidle")
        _swap(page, "#month")
        visited.append("/reports/ (month swapped)")

        sign_in(page, "erin")  # auditor: the evidence pack form swaps itself with htmx
        page.goto("/audit/", wait_until="networkidle")
        _swap(page, "#pack-scope")
        visited.append("/audit/ (pack scope swapped)")

        sign_in(page, "grace")  # access admin: campaigns (progress bars) and the review queue
        for path in ("/access/campaigns/", "/access/reviews/"):
            page.goto(path, wait_until="networkidle")
            visited.append(path)
        bars = page.goto("/access/campaigns/", wait_until="networkidle") and page.eval_on_selector_all(
            ".progress > span[data-progress]", "spans => spans.map(s => s.style.width)")
        assert bars and all(width.endswith("%") for width in bars), bars

        sign_in(page, "bob")  # CAB member: the approval queue (decisions by htmx)
        page.goto("/changes/queue/", wait_until="networkidle")
        visited.append("/changes/queue/")

        page.goto("/api/docs/", wait_until="networkidle")
        page.wait_for_selector(".opblock", timeout=60000)
        operations = page.locator(".opblock").count()
        assert operations > 20, f"Swagger UI rendered {operations} operations"
        visited.append(f"/api/docs/ ({operations} operations)")
        # What tests/journeys/journey.py does to run axe-core still works under the policy.
        axe = (Path(__import__("axe_playwright_python").__file__).parent / "axe.min.js").read_text()
        page.evaluate(axe)
        assert page.evaluate("typeof axe.run") == "function"
    finally:
        context.close()
    refused = [line for line in console if "Content Security Policy" in line or line.startswith("uncaught")]
    assert refused == [], f"visited {visited}:\n" + "\n".join(refused)
    assert len(visited) == 6
