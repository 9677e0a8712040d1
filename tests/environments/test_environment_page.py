"""The environment page (/environments/<slug>/): its provisioning history (paginated, with the
plan counts, the unauthorised flag and the change) beside its recent deployments, the sections
other apps add, a fixed number of queries; the provisioning run's page with its addresses; and
nothing for an outsider."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import Deployment
from apps.environments import services

from .conftest import real_plan, with_actions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock("2026-11-18 12:00")


@pytest.fixture
def runs(environments, deployer, make_change, make_artifact):
    """make(n): n provisioning runs in production (every third one destructive without a change,
    every other one with an approved change) and n deployments there."""
    change = make_change(state="scheduled", env="prod")

    def make(n):
        destructive = with_actions(real_plan("basic"), {"null_resource.bar": ["delete"]})
        for i in range(n):
            services.provision_record(environment=environments["prod"], tool="terraform", status="applied",
                                      plan=destructive if i % 3 == 0 else real_plan("update"),
                                      change=change if i % 2 else None, actor=deployer, pipeline_run_id=f"tf-{i}")
            artifact = make_artifact()
            Deployment.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                                      version=artifact.version, status="succeeded", change=change,
                                      started_at=timezone.now() - timedelta(hours=i), finished_at=timezone.now())
        return change

    return make


def test_the_page_shows_provisioning_history_beside_deployments(client, requester, runs):
    change = runs(3)
    client.force_login(requester)
    response = client.get("/environments/prod/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Provisioning history" in page and "3 runs recorded" in page
    assert page.count('class="badge badge-bad">Unauthorised</span>') == 1  # run 0: destructive, no change
    assert f'<a href="/changes/{change.pk}/">{change.number}</a>' in page
    assert "−1" in page and "~1" in page  # the destructive plan's delete, the update plan's update
    assert "Recent deployments" in page and page.count('href="/delivery/deployments/') == 3


def test_the_history_is_paginated(client, requester, runs):
    runs(22)
    client.force_login(requester)
    first = client.get("/environments/prod/").content.decode()
    assert "Page 1 of 2" in first and first.count('href="/environments/provisions/') == 20
    second = client.get("/environments/prod/?page=2").content.decode()
    assert second.count('href="/environments/provisions/') == 2


def test_the_page_costs_a_fixed_number_of_queries(client, requester, runs, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(requester)
    runs(2)
    with CaptureQueriesContext(connection) as small:
        client.get("/environments/prod/")
    runs(25)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/environments/prod/").status_code == 200


def test_other_apps_add_sections(client, requester, environments, monkeypatch):
    from apps.environments import views

    seen = {}

    def collect(name, request, environment):
        seen.update(name=name, environment=environment)
        return [{"title": "Configuration baseline", "template": "environments/sections/change_migrations.html",
                 "data": {"rows": []}}]

    monkeypatch.setattr(views, "collect_sections", collect)
    client.force_login(requester)
    page = client.get("/environments/staging/").content.decode()
    assert seen == {"name": "environment_sections", "environment": environments["staging"]}
    assert "Configuration baseline" in page


def test_the_run_page_lists_the_addresses_it_touched(client, requester, environments, deployer):
    plan = with_actions(real_plan("basic"), {"null_resource.baz[1]": ["delete", "create"]})
    provision = services.provision_record(environment=environments["staging"], tool="opentofu", status="planned",
                                          plan=plan, actor=deployer, repository="git@example.com:infra/live.git")
    client.force_login(requester)
    page = client.get(f"/environments/provisions/{provision.pk}/").content.decode()
    for address in ("data.null_data_source.baz", "module.foo.null_resource.aliased", "null_resource.baz[1]"):
        assert address in page
    assert '<span class="badge badge-warn">Replace</span>' in page
    assert "git@example.com:infra/live.git" in page


def test_the_catalog_lists_environments_with_a_link_to_their_page(client, requester, environments):
    client.force_login(requester)
    page = client.get("/environments/").content.decode()
    assert '<a href="/environments/prod/">Production</a>' in page


def test_an_outsider_gets_nothing(client, outsider, environments, deployer):
    provision = services.provision_record(environment=environments["dev"], tool="terraform", status="applied",
                                          actor=deployer)
    client.force_login(outsider)
    assert client.get("/environments/dev/").status_code == 403
    assert client.get(f"/environments/provisions/{provision.pk}/").status_code == 403


def test_unknown_pages_are_404(client, requester, environments):
    client.force_login(requester)
    assert client.get("/environments/moon/").status_code == 404
    assert client.get("/environments/provisions/999/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, environments):
    assert client.get("/environments/dev/").status_code == 302
