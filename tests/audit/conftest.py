"""Data for the audit tests: change types, change requests and deployments made through the
real services where they exist, so they carry history and audit events like production data."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from apps.audit.services import audit_event_record

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Personas are created with a password; hashing it with PBKDF2 costs a second a user here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def change_types(db):
    from apps.change_types.models import ChangeType

    normal, _ = ChangeType.objects.get_or_create(slug="normal", defaults={"name": "Normal"})
    emergency, _ = ChangeType.objects.get_or_create(slug="emergency", defaults={"name": "Emergency", "is_emergency": True})
    return {"normal": normal, "emergency": emergency}


@pytest.fixture
def make_change(change_types, service, environments, requester):
    from apps.changes.models import ChangeRequest

    def make(*, approved_at=None, kind="normal", svc=None, state="completed", closed_at=None, **extra):
        change = ChangeRequest(title=extra.pop("title", "Rotate keys"), change_type=change_types[kind],
                               service=svc or service, environment=environments["prod"], requester=requester,
                               state=state, approved_at=approved_at, closed_at=closed_at, **extra)
        change.save()
        change.number = ChangeRequest.format_number(change.pk)
        change.save(update_fields=["number"])
        audit_event_record(action="change.created", target=change, actor=requester, details={"title": change.title})
        if approved_at:
            audit_event_record(action="change.approved", target=change, actor=requester, details={})
        return change

    return make


@pytest.fixture
def make_deployment(service, environments, service_account):
    from apps.delivery.models import Deployment

    def make(*, change=None, started_at, env="prod", svc=None, status="succeeded", **extra):
        dep = Deployment.objects.create(service=svc or service, environment=environments[env], change=change,
                                        status=status, started_at=started_at,
                                        finished_at=started_at + dt.timedelta(minutes=10),
                                        version=extra.pop("version", f"1.0.{next(_numbers)}"),
                                        created_by=service_account, **extra)
        audit_event_record(action="deployment.recorded", target=dep, actor=service_account,
                           details={"status": status})
        return dep

    return make


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 7, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def quarter_data(make_change, make_deployment, approver, implementer):
    """July 2026: approved changes deployed, plus every kind of exception."""
    good = make_change(approved_at=at(1, 9), implementer=implementer)
    good_dep = make_deployment(change=good, started_at=at(2))
    staging_dep = make_deployment(change=good, started_at=at(1, 11), env="staging")
    late = make_change(approved_at=at(5, 15))
    late_dep = make_deployment(change=late, started_at=at(5, 10))
    unapproved = make_change(approved_at=None, state="implementing")
    unapproved_dep = make_deployment(change=unapproved, started_at=at(6))
    emergency = make_change(kind="emergency", approved_at=None)
    emergency_dep = make_deployment(change=emergency, started_at=at(7))
    orphan_dep = make_deployment(change=None, started_at=at(8))
    outside_dep = make_deployment(change=good, started_at=dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    return {"good": good, "good_dep": good_dep, "staging_dep": staging_dep, "late": late, "late_dep": late_dep,
            "unapproved_dep": unapproved_dep, "emergency_dep": emergency_dep, "orphan_dep": orphan_dep,
            "outside_dep": outside_dep}


CONTROL_JULY = {"control": "sox_change_management", "period_start": "2026-07-01", "period_end": "2026-07-31"}
