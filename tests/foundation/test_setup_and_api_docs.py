"""Set-up details a new user meets first: the demo banner's address, a quiet log for refusals,
the packaging metadata, and an API whose docs say how to authenticate."""

from __future__ import annotations

import io
import logging
import tomllib
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_banner_names_the_address_it_is_served_on():
    out = io.StringIO()
    call_command("demo_logins", "--url", "http://127.0.0.1:8101/", stdout=out)
    assert "open http://127.0.0.1:8101/ and sign in" in out.getvalue()
    assert "8000" not in out.getvalue()
    # make run passes its own HOST and PORT.
    assert "demo_logins --url http://$(HOST):$(PORT)/" in (ROOT / "Makefile").read_text()


@pytest.mark.django_db
def test_a_403_is_logged_in_one_line_without_a_traceback(client, outsider, caplog):
    client.force_login(outsider)
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get("/audit/log/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records, "the refusal is still logged"
    assert all(r.levelno <= logging.WARNING for r in records)
    assert all(r.exc_info is None for r in records)
    handler = logging.getLogger().handlers[0]
    assert all("Traceback" not in handler.format(r) for r in records)


def test_the_licence_is_an_spdx_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"


@pytest.mark.django_db
def test_every_page_names_a_favicon_that_is_served(client, requester):
    client.force_login(requester)
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert (ROOT / "static" / "favicon.svg").exists()


@pytest.mark.django_db
def test_the_schema_declares_the_bearer_token_and_operations_use_it(api_client_for, service_account):
    schema = api_client_for(service_account).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["bearerToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "/account/" in scheme["description"]  # where to get one
    operation = schema["paths"]["/api/v1/services/"]["get"]
    assert {"bearerToken": []} in operation["security"]
