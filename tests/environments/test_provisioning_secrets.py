"""A plan's values never reach the portal's storage or logs: a secret in `after` (and in the
variables and prior state) is found in no table of the database, not in the SQLite file's bytes,
not in the audit log or history, and not in any log record."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from apps.environments.models import Provision

from .conftest import real_plan, with_actions

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-Hunter2-0a9f8e7d6c5b"


def plan_with_a_secret() -> dict:
    plan = with_actions(real_plan("basic"), {"null_resource.bar": ["delete", "create"]})
    for entry in plan["resource_changes"]:
        if entry["address"] == "null_resource.bar":
            entry["change"]["before"] = {"triggers": {"db_password": "old-" + SECRET}}
            entry["change"]["after"] = {"triggers": {"db_password": SECRET}}
    plan["variables"] = {"db_password": {"value": SECRET}}
    plan["prior_state"] = {"values": {"outputs": {"password": {"value": SECRET, "sensitive": True}}}}
    return plan


def every_table_as_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (names from the schema)
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_a_secret_in_a_plan_is_found_nowhere_afterwards(post_provision, environments, caplog):
    caplog.set_level(logging.DEBUG)
    response = post_provision(env="prod", plan=plan_with_a_secret())
    assert response.status_code == 201
    provision = Provision.objects.get()
    # The plan was read: the replace is counted and its address kept.
    assert provision.replace_count == 1 and provision.resources.filter(address="null_resource.bar").exists()
    assert SECRET not in response.content.decode()
    dump = every_table_as_text()
    assert "null_resource.bar" in dump, "the dump reads the tables it should"
    assert SECRET not in dump
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection.serialize()
        assert b"null_resource.bar" in raw
        assert SECRET.encode() not in raw
    assert SECRET not in caplog.text
    assert all(SECRET not in str(record.args) for record in caplog.records)


def test_a_refused_plan_with_a_secret_is_not_echoed_or_kept(post_provision, environments, caplog):
    caplog.set_level(logging.DEBUG)
    plan = plan_with_a_secret()
    plan["resource_changes"][0]["change"]["actions"] = [SECRET]
    response = post_provision(env="prod", plan=plan)
    assert response.status_code == 400
    assert SECRET not in response.content.decode()
    assert SECRET not in every_table_as_text()
    assert SECRET not in caplog.text
