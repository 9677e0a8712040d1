"""The change page of a database change shows the migrations it carries and where each ran:
environment × status × checksum match, in a fixed number of queries."""

from __future__ import annotations

import json

import pytest

from apps.delivery import services as delivery
from apps.delivery.models import GateDecision
from apps.environments.change_sections import migration_matrix

from .conftest import migration

pytestmark = pytest.mark.django_db

DECLARED = {"tool": "flyway", "migrations": [
    {"version": "10", "description": "add table", "checksum": "c10"},
    {"version": "9", "description": "add column", "checksum": "c9"},
    {"version": "11", "description": "drop column", "checksum": "c11"},
]}


@pytest.fixture
def carried(make_change, make_artifact, deployer, environments):
    """A change whose artifact (asked about at the gate) declares three migrations."""
    def make(declared=DECLARED, **change_fields):
        change = make_change(state="scheduled", **change_fields)
        artifact = make_artifact()
        delivery.evidence_attach(artifact=artifact, kind="migrations", data=json.dumps(declared).encode(),
                                 actor=deployer)
        GateDecision.objects.create(service=artifact.service, environment=environments["prod"], artifact=artifact,
                                    change=change, decision="deny")
        return change

    return make


def states(matrix) -> dict[str, list[str]]:
    return {row["version"]: [cell["state"] for cell in row["cells"]] for row in matrix["rows"]}


def test_where_each_carried_migration_ran(carried, post_applied):
    change = carried()
    post_applied([migration("9", "c9"), migration("10", "c10"), migration("11", "c11")], env="dev")
    post_applied([migration("9", "c9"), migration("10", "c10", status="failed")], env="staging")
    post_applied([migration("9", "edited")], env="prod")
    matrix = migration_matrix(change)
    assert [e.slug for e in matrix["environments"]] == ["dev", "staging", "prod"]
    assert states(matrix) == {"9": ["match", "match", "other_checksum"], "10": ["match", "failed", "not_run"],
                              "11": ["match", "not_run", "not_run"]}
    assert [row["version"] for row in matrix["rows"]] == ["9", "10", "11"]


def test_the_change_page_shows_the_section(client, requester, carried, post_applied):
    change = carried()
    post_applied([migration("9", "c9")], env="staging")
    client.force_login(requester)
    page = client.get(f"/changes/{change.number}/").content.decode()
    assert "Schema migrations" in page and "add column" in page
    assert '<span class="badge badge-ok"' in page


def test_a_database_change_without_declarations_says_so(client, requester, make_change):
    change = make_change(state="scheduled", risk_answers={"database_change": True})
    client.force_login(requester)
    page = client.get(f"/changes/{change.number}/").content.decode()
    assert "none of its artifacts declares its migrations" in page


def test_other_changes_show_no_section(make_change):
    assert migration_matrix(make_change(state="scheduled")) is None


def test_the_section_costs_a_fixed_number_of_queries(carried, post_applied, django_assert_num_queries):
    change = carried()
    with django_assert_num_queries(5):
        migration_matrix(change)
    many = {"tool": "flyway", "migrations": [{"version": str(v), "checksum": f"c{v}"} for v in range(60)]}
    bigger = carried(declared=many)
    post_applied([migration(str(v), f"c{v}") for v in range(60)], env="dev")
    with django_assert_num_queries(5):
        assert len(migration_matrix(bigger)["rows"]) == 60
