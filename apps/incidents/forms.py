from __future__ import annotations

from django import forms
from django.conf import settings

from apps.accounts.models import User
from apps.catalog.models import Environment, Service

from .models import ActionItem, Incident, IncidentAttachment, IncidentClassification, RunbookStep, RunbookTest

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _people():
    return User.objects.filter(is_active=True, kind=User.Kind.HUMAN).order_by("username")


class IncidentForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.filter(is_active=True).order_by("name"),
                                     to_field_name="slug")
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Incident.Severity.choices, initial=Incident.Severity.SEV3)
    classification = forms.ModelChoiceField(queryset=IncidentClassification.objects.order_by("name"),
                                            required=False, to_field_name="slug")
    commander = forms.ModelChoiceField(queryset=_people(), required=False, to_field_name="username")
    started_at = forms.DateTimeField(widget=DATETIME_WIDGET, help_text="When users were first affected")
    detected_at = forms.DateTimeField(widget=DATETIME_WIDGET, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class UpdateForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Update")
    status = forms.ChoiceField(choices=[("", "Keep status")] + list(Incident.Status.choices), required=False,
                               label="New status")


class LinkOverrideForm(forms.Form):
    target = forms.CharField(help_text="A deployment id, 'none' or 'inferred'")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(choices=IncidentAttachment.Kind.choices)
    file = forms.FileField(required=False, help_text=f"At most {settings.EVIDENCE_MAX_BYTES // (1024 * 1024)} MB")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Or a note")
    description = forms.CharField(max_length=300, required=False)


class RollbackForm(forms.Form):
    deployment = forms.IntegerField(label="Rollback deployment")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReviewForm(forms.Form):
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    timeline = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    contributing_factors = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    what_went_well = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=ActionItem.Type.choices)
    owner = forms.ModelChoiceField(queryset=_people(), to_field_name="username")
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class RunbookCreateForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=_people(), to_field_name="username")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class RunbookStepForm(forms.Form):
    area = forms.ChoiceField(choices=RunbookStep.Area.choices)
    instruction = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    verification = forms.CharField(required=False)


class RunbookTestForm(forms.Form):
    outcome = forms.ChoiceField(choices=RunbookTest.Outcome.choices)
    environment = forms.ModelChoiceField(queryset=Environment.objects.order_by("order"), required=False,
                                         to_field_name="slug")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class IncidentEditForm(forms.Form):
    title = forms.CharField(max_length=200)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    classification = forms.ModelChoiceField(queryset=IncidentClassification.objects.order_by("name"),
                                            required=False, to_field_name="slug")
    commander = forms.ModelChoiceField(queryset=_people(), required=False, to_field_name="username")
