"""The OpenAPI schema tells the truth (issue 17), tried with schemathesis on every run.

Every operation of the live /api/schema/ is called in this process with cases generated from the
schema (derandomized, so every run sends the same): valid and invalid cases with an all-scopes
token, with generated paths and with the test's records in the path, and valid cases with a
low-privilege token. Any 5xx, any answer not
matching its documented schema (nullable fields included) and any undocumented status fails the
test, naming each. A few examples per operation keep it to a minute or two; bench/schemathesis_run.py
runs the same at 10,000+ cases.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.contract import Tally, known_path_values, load_schema, run, unsupported_method_answers, wsgi_app
from tests.delivery.conftest import *  # noqa: F403 — fixtures by name (make_change, make_artifact)

EXAMPLES = 2


@pytest.fixture
def records(clock, superuser, make_change, make_artifact, environments, service, requester, implementer):
    """A few records of the kinds the paths name, with the optional links left empty (null in the
    answers): a scheduled change without implementer, a draft, an artifact, a deployment of it and
    one without artifact, an incident."""
    from apps.delivery.models import Deployment
    from apps.incidents import services as incidents

    clock("2026-11-18 10:00")
    change = make_change(state="scheduled", env="staging")
    make_change(state="draft", implementer=implementer)
    artifact = make_artifact()
    now = timezone.now()
    Deployment.objects.create(service=service, environment=environments["staging"], artifact=artifact,
                              version=artifact.version, status="succeeded", change=change,
                              started_at=now - timedelta(minutes=5), finished_at=now)
    Deployment.objects.create(service=service, environment=environments["dev"], version="0.9.0", status="started",
                              started_at=now)
    incidents.incident_open(service=service, title="Card payments failing", severity="sev2",
                            started_at=now - timedelta(hours=2), actor=requester)


@pytest.fixture
def reader(roles_ready, team):
    """A team member without a role: the read scopes only."""
    from tests.factories import UserFactory

    return UserFactory(username="lena", team=team)


def test_every_operation_answers_as_its_schema_says(records, superuser, reader, token_for, settings):
    settings.DEBUG = False
    tokens = {"all-scopes": token_for(superuser), "low-privilege": token_for(reader)}
    app = wsgi_app()
    schema = load_schema(app, tokens["all-scopes"])
    path_values = known_path_values()

    tally = run(schema, tokens, examples=EXAMPLES, path_values=path_values, thorough=("all-scopes",), tally=Tally())

    operations = sum(1 for _ in schema.get_all_operations())
    assert operations >= 90, "the schema lost operations"
    # The records reached: the known-path cases answered 200 somewhere, not only 404.
    assert tally.statuses[200] > operations // 2, tally.report()
    assert not tally.findings, tally.report()


def test_a_method_an_endpoint_does_not_document_is_a_json_405_everywhere(records, superuser, reader, token_for,
                                                                          settings):
    """PUT, PATCH, DELETE and TRACE on every path that does not offer them: 405 with the error
    body, for an all-scopes and a low-privilege token alike (never 403 "declares no scope" or 404)."""
    settings.DEBUG = False
    app = wsgi_app()
    schema = load_schema(app, token_for(superuser))
    path_values = known_path_values()
    for token in (token_for(superuser), token_for(reader)):
        answers = unsupported_method_answers(schema, app, token, path_values)
        assert len(answers) > 200
        wrong = [answer for answer in answers if answer[2:] != (405, "method_not_allowed")]
        assert not wrong, wrong


def test_fields_read_through_an_optional_link_are_nullable_and_the_others_are_not():
    """Issue 17 named fields declared non-null that answer null; the rule is the source's
    (releaseportal/api/schema.py), so a required link stays non-null."""
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    def nullable(component, field):
        return components[component]["properties"][field].get("nullable", False)

    for component, field in [("ChangeOut", "implementer"), ("ChangeListOut", "implementer"),
                             ("DeploymentOut", "artifact"), ("IncidentOut", "classification"),
                             ("IncidentOut", "commander"), ("ApprovalOut", "on_behalf_of"),
                             ("GrantOut", "revoked_by"), ("RetrospectiveOut", "service")]:
        assert nullable(component, field), (component, field)
    for component, field in [("ChangeOut", "requester"), ("ChangeOut", "number"), ("DeploymentOut", "service"),
                             ("IncidentOut", "service"), ("GrantOut", "user")]:
        assert not nullable(component, field), (component, field)
