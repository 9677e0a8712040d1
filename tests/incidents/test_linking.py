"""The incident → deployment linking rule of METRICS.md (explicit, inferred, overridden)."""

from datetime import timedelta

import pytest

from apps.incidents.linking import annotate_links, linked_deployment, linked_deployments
from apps.incidents.models import Incident
from tests.factories import ServiceFactory

from .conftest import T0

pytestmark = pytest.mark.django_db


def test_an_explicit_link_wins_over_the_inferred_one(make_deployment, make_incident):
    make_deployment(finished_at=T0)
    chosen = make_deployment(finished_at=T0 - timedelta(days=3), version="0.9")
    incident = make_incident(caused_by_deployment=chosen)
    assert linked_deployment(incident) == (chosen, "explicit")


def test_it_infers_the_last_succeeded_production_deployment_before_the_start(make_deployment, make_incident):
    make_deployment(finished_at=T0 - timedelta(days=1), version="1")
    latest = make_deployment(finished_at=T0, version="2")
    make_deployment(finished_at=T0 + timedelta(hours=2), version="3")  # after the incident started
    incident = make_incident(started_at=T0 + timedelta(hours=1))
    assert linked_deployment(incident) == (latest, "inferred")


def test_a_deployment_finishing_exactly_at_the_start_is_not_before_it(make_deployment, make_incident):
    make_deployment(finished_at=T0)
    incident = make_incident(started_at=T0)
    assert linked_deployment(incident) == (None, None)


def test_no_earlier_deployment_means_no_link(make_deployment, make_incident):
    make_deployment(finished_at=T0 + timedelta(days=1))
    incident = make_incident(started_at=T0)
    assert linked_deployment(incident) == (None, None)


def test_deployments_of_another_service_are_not_inferred(make_deployment, make_incident, team):
    other = ServiceFactory(slug="ledger", owner_team=team)
    make_deployment(svc=other, finished_at=T0)
    incident = make_incident(started_at=T0 + timedelta(hours=1))
    assert linked_deployment(incident) == (None, None)


def test_failed_rolled_back_and_unfinished_deployments_are_skipped(make_deployment, make_incident):
    good = make_deployment(finished_at=T0 - timedelta(days=2), version="good")
    make_deployment(status="failed", finished_at=T0 - timedelta(hours=3), version="bad")
    make_deployment(status="rolled_back", finished_at=T0 - timedelta(hours=2), version="rb")
    make_deployment(status="in_progress", finished_at=None, version="running")
    incident = make_incident(started_at=T0)
    assert linked_deployment(incident) == (good, "inferred")


def test_non_production_deployments_are_skipped(make_deployment, make_incident):
    make_deployment(env="staging", finished_at=T0 - timedelta(hours=1))
    incident = make_incident(started_at=T0)
    assert linked_deployment(incident) == (None, None)


def test_a_suppressed_link_has_no_inferred_deployment(make_deployment, make_incident):
    make_deployment(finished_at=T0 - timedelta(hours=1))
    incident = make_incident(started_at=T0, link_suppressed=True, link_override_reason="Provider outage")
    assert linked_deployment(incident) == (None, None)


def test_an_explicit_link_wins_even_when_suppressed_was_set(make_deployment, make_incident):
    chosen = make_deployment(finished_at=T0 - timedelta(days=5))
    incident = make_incident(started_at=T0, link_suppressed=True, caused_by_deployment=chosen)
    assert linked_deployment(incident) == (chosen, "explicit")


def test_the_bulk_variant_agrees_with_the_single_one_in_two_queries(make_deployment, make_incident, team,
                                                                  django_assert_num_queries):
    other = ServiceFactory(slug="ledger", owner_team=team)
    d1 = make_deployment(finished_at=T0 - timedelta(days=1), version="1")
    d2 = make_deployment(finished_at=T0 + timedelta(days=1), version="2")
    make_deployment(svc=other, status="failed", finished_at=T0, version="x")
    incidents = [
        make_incident(started_at=T0),  # inferred d1
        make_incident(started_at=T0 + timedelta(days=2)),  # inferred d2
        make_incident(started_at=T0 - timedelta(days=9)),  # nothing before
        make_incident(started_at=T0 + timedelta(days=2), caused_by_deployment=d1),  # explicit
        make_incident(started_at=T0 + timedelta(days=2), link_suppressed=True),  # suppressed
        make_incident(svc=other, started_at=T0 + timedelta(days=2)),  # only a failed one
    ]
    with django_assert_num_queries(2):
        bulk = linked_deployments(incidents)
    with django_assert_num_queries(2):
        from_queryset = linked_deployments(Incident.objects.all())
    expected = {}
    for incident in incidents:
        deployment, kind = linked_deployment(incident)
        expected[incident.pk] = (deployment.pk if deployment else None, kind)
    assert bulk == expected == from_queryset
    assert expected[incidents[0].pk] == (d1.pk, "inferred")
    assert expected[incidents[1].pk] == (d2.pk, "inferred")
    assert expected[incidents[3].pk] == (d1.pk, "explicit")
    assert expected[incidents[4].pk] == (None, None)
    assert expected[incidents[5].pk] == (None, None)


def test_annotate_links_exposes_the_link_on_each_row(make_deployment, make_incident):
    d1 = make_deployment(finished_at=T0 - timedelta(days=1))
    make_incident(started_at=T0)
    row = annotate_links(Incident.objects.all()).get()
    assert (row.linked_deployment_id, row.link_kind) == (d1.pk, "inferred")


def test_overriding_a_link_records_who_when_why_and_can_be_reset(make_deployment, make_incident, requester):
    from apps.audit.models import AuditEvent
    from apps.incidents.services import incident_link_override
    from releaseportal.errors import InvalidInput

    inferred = make_deployment(finished_at=T0)
    chosen = make_deployment(finished_at=T0 - timedelta(days=4), version="0.7")
    incident = make_incident(started_at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidInput):
        incident_link_override(incident=incident, actor=requester, reason=" ", deployment=chosen)
    incident_link_override(incident=incident, actor=requester, reason="Schema change in 0.7", deployment=chosen)
    incident.refresh_from_db()
    assert linked_deployment(incident) == (chosen, "explicit")
    assert incident.link_overridden_by == requester and incident.link_overridden_at is not None
    event = AuditEvent.objects.get(action="incident.link_overridden")
    assert event.details["before"] == {"deployment": inferred.pk, "link": "inferred"}
    assert event.details["after"] == {"deployment": chosen.pk, "link": "explicit"}
    incident_link_override(incident=incident, actor=requester, reason="Upstream DNS", suppress=True)
    incident.refresh_from_db()
    assert linked_deployment(incident) == (None, None)
    incident_link_override(incident=incident, actor=requester, reason="Back to the rule")
    incident.refresh_from_db()
    assert linked_deployment(incident) == (inferred, "inferred")
    assert list(incident.updates.filter(kind="link").values_list("message", flat=True))[-1].endswith("Back to the rule")


def test_every_production_environment_counts_when_there_are_several(make_deployment, make_incident, environments):
    from apps.catalog.models import Environment

    Environment.objects.create(slug="prod-eu", name="Production EU", order=40, is_production=True)
    environments["prod-eu"] = Environment.objects.get(slug="prod-eu")
    make_deployment(env="prod", finished_at=T0 - timedelta(hours=2), version="us")
    eu = make_deployment(env="prod-eu", finished_at=T0 - timedelta(hours=1), version="eu")
    incident = make_incident(started_at=T0)
    assert linked_deployment(incident) == (eu, "inferred")
    assert linked_deployments([incident]) == {incident.pk: (eu.pk, "inferred")}
