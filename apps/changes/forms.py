from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from apps.catalog.models import COMPLIANCE_SCOPES, Environment, Service
from apps.change_types.models import ChangeType, StandardChangeTemplate
from releaseportal.templatetags.portal import person_name

from .models import RolloutStrategy
from .permissions import implementer_candidates
from .risk import QUESTIONS
from .sod import eligible_delegates

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ChangeForm(forms.Form):
    title = forms.CharField(max_length=200)
    change_type = forms.ModelChoiceField(queryset=ChangeType.objects.filter(is_active=True), to_field_name="slug")
    standard_template = forms.ModelChoiceField(
        queryset=StandardChangeTemplate.objects.filter(state="approved"), required=False,
        help_text="Standard changes only: the approved template this change follows.")
    service = forms.ModelChoiceField(queryset=Service.objects.filter(is_active=True).order_by("name"), to_field_name="slug")
    environment = forms.ModelChoiceField(queryset=Environment.objects.order_by("order"), to_field_name="slug")
    # Offered from permissions.implementer_candidates (set in __init__): team members who may carry it out.
    implementer = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False,
                                         to_field_name="username",
                                         help_text="A member of the service's team; on production, with the deployer "
                                                   "privilege.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False,
                                  label="Plan", help_text="What will be done, step by step.")
    planned_start = forms.DateTimeField(required=False, widget=DATETIME_WIDGET, help_text="UTC")
    planned_end = forms.DateTimeField(required=False, widget=DATETIME_WIDGET, help_text="UTC")
    rollout_strategy = forms.ChoiceField(choices=RolloutStrategy.choices)
    rollback_plan = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    rollback_error_rate_pct = forms.FloatField(required=False, min_value=0, max_value=100, label="Roll back above error rate (%)")
    rollback_p95_latency_ms = forms.IntegerField(required=False, min_value=0, label="Roll back above p95 latency (ms)")
    compliance_scopes = forms.MultipleChoiceField(choices=COMPLIANCE_SCOPES, required=False,
                                                  widget=forms.CheckboxSelectMultiple)

    # Form fields that carry a service field of another name (services.change_update's names).
    SERVICE_FIELD_OF = {"rollback_error_rate_pct": "rollback_criteria", "rollback_p95_latency_ms": "rollback_criteria"}

    def __init__(self, *args, editing: bool = False, editable: frozenset[str] | None = None, change=None, **kwargs):
        """`editable`: the service fields this person may change now (permissions.edit_scope and the
        state); the others are shown disabled, so what is posted for them is ignored. `change`: the
        change being edited (its service narrows the implementers offered)."""
        super().__init__(*args, **kwargs)
        self.fields["implementer"].queryset = implementer_candidates(
            service=change.service if change is not None else None,
            environment=change.environment if change is not None else None,
            keep=change.implementer if change is not None else None)
        self.fields["implementer"].label_from_instance = person_name
        for key, question, points in QUESTIONS:
            self.fields[f"risk_{key}"] = forms.BooleanField(required=False, label=question,
                                                            help_text=f"+{points} risk points")
        if editing:
            for name in ("change_type", "standard_template"):
                del self.fields[name]
        if editable is not None:
            for name, field in self.fields.items():
                service_name = "risk_answers" if name.startswith("risk_") else self.SERVICE_FIELD_OF.get(name, name)
                if service_name not in editable:
                    field.disabled = True

    def risk_fields(self):
        return [self[f"risk_{key}"] for key, _, _ in QUESTIONS]

    def clean(self):
        data = super().clean()
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end <= start:
            self.add_error("planned_end", "The end must be after the start.")
        if bool(start) != bool(end):
            self.add_error("planned_end" if start else "planned_start", "Give both the start and the end, or neither.")
        change_type = data.get("change_type")
        if change_type is not None and change_type.is_pre_approved and not data.get("standard_template"):
            self.add_error("standard_template", "A standard change is filed from an approved template.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        criteria = {}
        if data.get("rollback_error_rate_pct") is not None:
            criteria["error_rate_pct"] = data["rollback_error_rate_pct"]
        if data.get("rollback_p95_latency_ms") is not None:
            criteria["p95_latency_ms"] = data["rollback_p95_latency_ms"]
        kwargs = {name: data[name] for name in ("title", "service", "environment", "implementer", "description",
                                                 "planned_start", "planned_end", "rollout_strategy", "rollback_plan")}
        kwargs["rollback_criteria"] = criteria
        kwargs["compliance_scopes"] = list(data.get("compliance_scopes") or [])
        kwargs["risk_answers"] = {key: bool(data.get(f"risk_{key}")) for key, _, _ in QUESTIONS}
        for name in ("change_type", "standard_template"):
            if name in self.fields:
                kwargs[name] = data.get(name)
        return kwargs

    @classmethod
    def initial_for(cls, change) -> dict:
        initial = {name: getattr(change, name) for name in ("title", "description", "planned_start", "planned_end",
                                                            "rollout_strategy", "rollback_plan", "compliance_scopes")}
        initial.update(service=change.service.slug, environment=change.environment.slug,
                       implementer=change.implementer.username if change.implementer_id else None,
                       rollback_error_rate_pct=(change.rollback_criteria or {}).get("error_rate_pct"),
                       rollback_p95_latency_ms=(change.rollback_criteria or {}).get("p95_latency_ms"))
        for key, _, _ in QUESTIONS:
            initial[f"risk_{key}"] = bool((change.risk_answers or {}).get(key))
        return initial


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=4000)


class DelegationForm(forms.Form):
    """Offers only the people delegation_create accepts (sod.eligible_delegates); the service
    re-checks whatever arrives."""

    delegate = forms.ModelChoiceField(queryset=None, to_field_name="username",
                                      help_text="People with an approving role of their own; never an auditor, "
                                                "executive or administrator account.")
    starts_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET, help_text="Blank: now (UTC)")
    ends_at = forms.DateTimeField(widget=DATETIME_WIDGET, help_text="UTC")
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, delegator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = eligible_delegates(delegator)


class CabMeetingForm(forms.Form):
    title = forms.CharField(max_length=120, initial="Weekly CAB")
    starts_at = forms.DateTimeField(widget=DATETIME_WIDGET, help_text="UTC")
    duration_minutes = forms.IntegerField(min_value=15, max_value=480, initial=60)
    quorum = forms.IntegerField(min_value=1, max_value=20, initial=3)
    members = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.filter(
        is_active=True, kind="human", groups__name="cab_member").order_by("username"), to_field_name="username",
        widget=forms.CheckboxSelectMultiple)
