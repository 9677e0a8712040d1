from __future__ import annotations

from django import forms

from .models import EvidencePack, LegalHold, RecordClass, RetentionPolicy
from .packs.scope import CONTROLS


class PackRequestForm(forms.Form):
    scope = forms.ChoiceField(choices=EvidencePack.Scope.choices, initial=EvidencePack.Scope.CONTROL_PERIOD)
    control = forms.ChoiceField(choices=[(k, k) for k in CONTROLS], required=False)
    change = forms.CharField(required=False, help_text="CHG-000123 (scope: a change)")
    service = forms.CharField(required=False, help_text="service slug (release, service over a period)")
    version = forms.CharField(required=False, help_text="version deployed (release)")
    period_start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="inclusive")

    def pack_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "scope" and v not in (None, "")}
        for key in ("period_start", "period_end"):
            if key in data:
                data[key] = data[key].isoformat()
        return data


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ["years", "counted_from", "description"]


class LegalHoldForm(forms.ModelForm):
    single_records = forms.CharField(required=False, help_text="record_class:id, comma separated, e.g. change_request:42")

    class Meta:
        model = LegalHold
        fields = ["title", "reason", "service", "team", "period_start", "period_end", "record_class"]
        widgets = {"period_start": forms.DateTimeInput(attrs={"type": "datetime-local"}),
                   "period_end": forms.DateTimeInput(attrs={"type": "datetime-local"}),
                   "reason": forms.Textarea(attrs={"rows": 3})}

    def records(self) -> list[str]:
        raw = self.cleaned_data.get("single_records") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]

    def clean_single_records(self):
        raw = self.cleaned_data.get("single_records") or ""
        for part in [p.strip() for p in raw.split(",") if p.strip()]:
            kind, _, ident = part.partition(":")
            if kind not in RecordClass.values or not ident:
                raise forms.ValidationError(f"'{part}' is not record_class:id.")
        return raw


class ReleaseHoldForm(forms.Form):
    release_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
