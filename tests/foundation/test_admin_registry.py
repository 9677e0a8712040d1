"""The Django admin is no path around governance. Walks `admin.site._registry`: every registered
model uses PortalAdmin; a governance record refuses every write (permissions and real POSTs to
the add, change, delete, bulk delete and history-revert views, nothing changed); each write an
admin may make on a maintained record is in history and exactly one audit event, naming the admin.

A model registered tomorrow is walked too, and is read-only unless its admin says otherwise."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.audit.admin_base import PortalAdmin, has_history
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
WRITES = ("add", "change", "delete")
# Making a model writable in the admin is a governance decision: it is reviewed here.
WRITABLE_IN_THE_ADMIN = {
    "accounts.Team": ("add", "change"),
    "accounts.User": ("add", "change"),
    "catalog.Environment": ("add", "change", "delete"),
    "catalog.Service": ("add", "change", "delete"),
    "delivery.ArtifactStandard": ("add", "change"),
    "delivery.EnvironmentPolicy": ("add", "change", "delete"),
    # Named shared resources are configuration (described here); only deployments hold them.
    "delivery.SharedResource": ("add", "change", "delete"),
    "delivery.VersionPolicy": ("add", "change", "delete"),
    "delivery.WebhookIntegration": ("add", "change", "delete"),
    "incidents.IncidentClassification": ("add", "change", "delete"),
}


def _case(kinds):
    """(model label, write) for every registered model and every write of `kinds`."""
    return [pytest.param(model, write, id=f"{model._meta.label}-{write}")
            for model, model_admin in REGISTRY for write in WRITES
            if (write in getattr(model_admin, "admin_writes", ())) == (kinds == "allowed")]


# --- building one stored instance of any model ------------------------------------------------

_counter = itertools.count(1)


def _value(field, model):
    n = next(_counter)
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey):
        return make(field.related_model)
    if isinstance(field, models.DateTimeField):
        return timezone.now() - timedelta(hours=1)
    if isinstance(field, models.DateField):
        return timezone.localdate()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, (models.IntegerField, models.FloatField, models.DecimalField, models.DurationField)):
        return timedelta(minutes=n) if isinstance(field, models.DurationField) else n
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.EmailField):
        return f"x{n}@example.test"
    if isinstance(field, models.URLField):
        return f"https://example.test/{n}"
    if isinstance(field, models.FileField):
        return f"test/{n}.txt"
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, (models.CharField, models.TextField)):
        text = f"{model._meta.model_name}-{field.name}-{n}"
        return text[-field.max_length:] if field.max_length else text
    raise NotImplementedError(f"{model._meta.label}.{field.name}: {type(field).__name__}")


# Values the generic builder cannot guess (check constraints, formats a model validates).
_OVERRIDES = {
    "accounts.User": lambda: {"kind": "human", "is_active": True},
    "audit.AuditEvent": None,  # appended by the services, never built by hand
    "delivery.DeploymentLock": lambda: {"acquired_at": timezone.now(), "expires_at": timezone.now() + timedelta(hours=1)},
    "delivery.Deployment": lambda: {"status": "succeeded", "started_at": timezone.now() - timedelta(hours=1),
                                    "finished_at": timezone.now()},
    "delivery.VersionPolicy": lambda: {"pattern": "semver"},
    "catalog.Environment": lambda: {"is_production": False},
    "changes.Freeze": lambda: {"starts_at": timezone.now(), "ends_at": timezone.now() + timedelta(days=1)},
    "changes.Delegation": lambda: {"starts_at": timezone.now(), "ends_at": timezone.now() + timedelta(days=1)},
    "changes.EmergencyOverride": lambda: {"authorised_at": timezone.now(),
                                          "expires_at": timezone.now() + timedelta(hours=4)},
}


def make(model):
    label = model._meta.label
    if label == "audit.AuditEvent":
        from apps.audit.services import audit_event_record

        return audit_event_record(action="test.built", object_type="test", object_id="1")
    if label == "accounts.User":
        from tests.factories import UserFactory

        return UserFactory(username=f"built-{next(_counter)}")
    values = dict(_OVERRIDES.get(label, dict)())
    for field in model._meta.concrete_fields:
        if (field.primary_key or field.name in values or field.null or field.has_default()
                or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
            continue
        if isinstance(field, (models.CharField, models.TextField)) and field.blank and not field.choices:
            continue
        values[field.name] = _value(field, model)
    return model._default_manager.create(**values)


def _stored(obj):
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _form_data(client, model, obj) -> dict:
    """What the admin's change form would post back unchanged (inline management forms included)."""
    response = client.get(_url(model, "change", obj.pk))
    assert response.status_code == 200
    context = response.context
    data = {}
    for bound in context["adminform"].form:
        value, widget = bound.value(), bound.field.widget
        if value is None:
            continue
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, (list, tuple)) else widget.decompress(value)
            for suffix, sub, part in zip(widget.widgets_names, widget.widgets, parts, strict=True):
                data[f"{bound.html_name}{suffix}"] = sub.format_value(part) or ""
        elif isinstance(value, (list, tuple)):
            data[bound.html_name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, (dict,)):
            data[bound.html_name] = json.dumps(value)
        else:
            data[bound.html_name] = bound.field.widget.format_value(value) if hasattr(
                bound.field.widget, "format_value") and not isinstance(value, str) else value
    for formset in context.get("inline_admin_formsets", []):
        management = formset.formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{management.prefix}-{name}"] = management[name].value()
        for form in formset.formset.initial_forms:
            for bound in form:
                if bound.value() is not None:
                    data[bound.html_name] = str(bound.value())
    return data


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def admin_request(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return request


# --- every registered model ------------------------------------------------------------------

@pytest.mark.parametrize("model", [m for m, _ in REGISTRY], ids=[m._meta.label for m, _ in REGISTRY])
def test_every_registered_model_uses_portal_admin(model):
    assert isinstance(admin.site._registry[model], PortalAdmin), f"{model._meta.label} is not a PortalAdmin"


def test_only_the_reviewed_models_are_writable_in_the_admin():
    writable = {model._meta.label: tuple(model_admin.admin_writes) for model, model_admin in REGISTRY
                if getattr(model_admin, "admin_writes", ())}
    assert writable == WRITABLE_IN_THE_ADMIN


@pytest.mark.parametrize("model", [m for m, a in REGISTRY if not getattr(a, "admin_writes", ())],
                         ids=[m._meta.label for m, a in REGISTRY if not getattr(a, "admin_writes", ())])
def test_a_governance_record_refuses_every_admin_write(model, admin_client, admin_request):
    model_admin = admin.site._registry[model]
    obj = make(model)
    before, count, events = _stored(obj), model._default_manager.count(), AuditEvent.objects.count()
    assert not model_admin.has_add_permission(admin_request)
    assert not model_admin.has_change_permission(admin_request, obj)
    assert not model_admin.has_delete_permission(admin_request, obj)
    assert admin_client.get(_url(model, "change", obj.pk)).status_code == 200  # it can be read

    assert admin_client.post(_url(model, "add"), {"_save": "Save"}).status_code == 403
    assert admin_client.post(_url(model, "change", obj.pk), {"_save": "Save"}).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(_url(model, "changelist"), {"action": "delete_selected", "post": "yes",
                                                             ACTION_CHECKBOX_NAME: [str(obj.pk)]})
    assert response.status_code in (200, 302)  # "no action selected": the action is not offered
    if has_history(model):
        version = obj.history.order_by("-history_id").first()
        assert admin_client.post(_url(model, "simple_history", obj.pk, version.history_id),
                                 {"_save": "Save"}).status_code == 403

    assert _stored(obj) == before
    assert model._default_manager.count() == count
    assert AuditEvent.objects.count() == events


# --- the writes an admin may make are audited ------------------------------------------------

def _new_events(since: int):
    return list(AuditEvent.objects.filter(seq__gt=since).order_by("seq"))


def _top_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _assert_history_names(model, pk, superuser, history_type):
    if not has_history(model):
        return
    row = model.history.filter(**{model._meta.pk.attname: pk}).order_by("-history_id").first()
    assert row is not None and row.history_type == history_type
    assert (row.history_user_id, row.history_actor_kind, row.history_actor_label) == (superuser.pk, "user", "root")


@pytest.mark.parametrize(("model", "write"), [p for p in _case("allowed") if p.values[1] == "change"])
def test_an_admin_change_is_in_history_and_one_audit_event(model, write, admin_client, superuser):
    obj = make(model)
    data = _form_data(admin_client, model, obj)
    since = _top_seq()
    response = admin_client.post(_url(model, "change", obj.pk), {**data, "_save": "Save"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    events = _new_events(since)
    assert [(e.action, e.actor_id, e.actor_label, e.object_id) for e in events] == [
        (f"admin.{model._meta.model_name}.changed", superuser.pk, "root", str(obj.pk))]
    _assert_history_names(model, obj.pk, superuser, "~")


@pytest.mark.parametrize(("model", "write"), [p for p in _case("allowed") if p.values[1] == "add"])
def test_an_admin_addition_is_in_history_and_one_audit_event(model, write, admin_client, superuser):
    template = make(model)
    data = _form_data(admin_client, model, template)
    if model._meta.label == "accounts.User":
        data.update({"password1": "Ax9-long-enough-pw", "password2": "Ax9-long-enough-pw", "usable_password": "true"})
    model._default_manager.filter(pk=template.pk).delete()  # its unique values are free again
    since, count = _top_seq(), model._default_manager.count()
    response = admin_client.post(_url(model, "add"), {**data, "_save": "Save"})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert model._default_manager.count() == count + 1
    created = model._default_manager.order_by("-pk").first()
    events = _new_events(since)
    assert [(e.action, e.actor_id, e.object_id) for e in events] == [
        (f"admin.{model._meta.model_name}.added", superuser.pk, str(created.pk))]
    _assert_history_names(model, created.pk, superuser, "+")


@pytest.mark.parametrize(("model", "write"), [p for p in _case("allowed") if p.values[1] == "delete"])
def test_an_admin_deletion_is_in_history_and_one_audit_event(model, write, admin_client, superuser):
    obj = make(model)
    since = _top_seq()
    response = admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not model._default_manager.filter(pk=obj.pk).exists()
    events = _new_events(since)
    assert [(e.action, e.actor_id, e.object_id) for e in events] == [
        (f"admin.{model._meta.model_name}.deleted", superuser.pk, str(obj.pk))]
    _assert_history_names(model, obj.pk, superuser, "-")


@pytest.mark.parametrize(("model", "write"), [p for p in _case("allowed") if p.values[1] == "delete"])
def test_the_bulk_delete_action_audits_each_record_it_deletes(model, write, admin_client, superuser):
    objs = [make(model), make(model)]
    since = _top_seq()
    response = admin_client.post(_url(model, "changelist"), {
        "action": "delete_selected", "post": "yes", ACTION_CHECKBOX_NAME: [str(o.pk) for o in objs]})
    assert response.status_code == 302
    assert not model._default_manager.filter(pk__in=[o.pk for o in objs]).exists()
    events = _new_events(since)
    assert sorted((e.action, e.actor_id, e.object_id) for e in events) == sorted(
        (f"admin.{model._meta.model_name}.deleted", superuser.pk, str(o.pk)) for o in objs)
    for obj in objs:
        _assert_history_names(model, obj.pk, superuser, "-")
