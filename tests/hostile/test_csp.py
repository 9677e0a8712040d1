"""Content-Security-Policy (issue #17): the exact policy on HTML pages, API answers and the
Swagger UI page; no template carries what the policy refuses; Swagger UI's init script and
page style come as files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.csp_html import EXPECTED_POLICY, csp_problems, parse_policy

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    assert "Content-Security-Policy" in response, f"no CSP header on {response.status_code} {response.request['PATH_INFO']}"
    return parse_policy(response["Content-Security-Policy"])


def test_an_html_page_carries_the_exact_policy(client, requester):
    client.force_login(requester)
    response = client.get("/")
    assert response.status_code == 200
    assert _policy(response) == EXPECTED_POLICY


def test_the_sign_in_page_and_a_refusal_carry_it_too(client, outsider):
    assert _policy(client.get("/account/login/")) == EXPECTED_POLICY
    assert _policy(client.get("/no-such-page/")) == EXPECTED_POLICY
    client.force_login(outsider)
    response = client.get("/api/docs/")
    assert response.status_code == 403 and _policy(response) == EXPECTED_POLICY


def test_an_api_answer_carries_the_exact_policy(api_client_for, service_account):
    response = api_client_for(service_account).get("/api/v1/services/")
    assert response.status_code == 200
    assert _policy(response) == EXPECTED_POLICY
    # A refusal of the API (no token) too.
    from rest_framework.test import APIClient

    refused = APIClient().get("/api/v1/services/")
    assert refused.status_code in (401, 403) and _policy(refused) == EXPECTED_POLICY


def test_swagger_ui_runs_under_the_policy(client, requester):
    client.force_login(requester)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert _policy(response) == EXPECTED_POLICY
    html = response.content.decode()
    assert csp_problems(html) == []
    assert "/api/docs/?script=" in html and "css/swagger.css" in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode() and "/api/schema/" in script.content.decode()
    assert _policy(script) == EXPECTED_POLICY


def test_the_csp_middleware_sits_right_inside_security_middleware():
    order = settings.MIDDLEWARE
    assert order.index("csp.middleware.CSPMiddleware") == order.index("django.middleware.security.SecurityMiddleware") + 1


def _served_templates():
    root = Path(settings.BASE_DIR)
    for path in sorted([*root.glob("templates/**/*.html"), *root.glob("apps/*/templates/**/*.html")]):
        # Rendered by WeasyPrint into PDF files, never served to a browser.
        if path.name.endswith("_pdf.html") or "/pdf/" in path.as_posix():
            continue
        yield path


def test_no_template_carries_inline_script_handlers_or_styles():
    problems = []
    for path in _served_templates():
        # Django comments are never sent to the browser.
        text = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", path.read_text(), flags=re.S)
        for problem in csp_problems(text):
            problems.append(f"{path.relative_to(settings.BASE_DIR)}: {problem}")
    assert problems == []


def test_the_checker_finds_what_the_policy_refuses():
    page = ('<script>alert(1)</script><script type="application/json">{}</script><script src="/s.js"></script>'
            '<select onchange="this.form.submit()"></select><a href="javascript:void(0)">x</a>'
            '<div hx-on:click="go()"></div><p style="color:red"></p><style>p{}</style>')
    found = csp_problems(page)
    assert len(found) == 6, found
