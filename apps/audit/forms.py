from __future__ import annotations

from django import forms

from .models import EvidencePack, LegalHold, RecordClass, RetentionPolicy
from .packs.scope import CONTROL_PACKS, SCOPE_FIELDS, service_choices


class PackRequestForm(forms.Form):
    """The fields of the chosen scope only (SCOPE_FIELDS): the scope comes from the submitted
    data, else `scope=`, else the default. The page swaps the form when the scope changes (htmx),
    or re-renders it on "Choose" without JavaScript."""

    scope = forms.ChoiceField(choices=EvidencePack.Scope.choices, initial=EvidencePack.Scope.CONTROL_PERIOD)
    control = forms.ChoiceField(label="Control pack", choices=[(key, pack.title) for key, pack in CONTROL_PACKS.items()])
    change = forms.CharField(label="Change", help_text="Its number, e.g. CHG-000123")
    # A select of the services by name; the value is checked by normalise_parameters, which
    # takes a name or a slug alike (as the API does).
    service = forms.CharField(label="Service", widget=forms.Select(choices=()))
    version = forms.CharField(label="Version", help_text="The version deployed")
    period_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}), help_text="inclusive")

    def __init__(self, *args, scope: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        chosen = (self.data.get("scope") if self.is_bound else None) or scope
        self.chosen_scope = chosen if chosen in SCOPE_FIELDS else EvidencePack.Scope.CONTROL_PERIOD
        self.initial.setdefault("scope", self.chosen_scope)
        for name in [n for n in self.fields if n != "scope" and n not in SCOPE_FIELDS[self.chosen_scope]]:
            del self.fields[name]
        for name, field in self.fields.items():
            if name != "scope":
                # The browser asks for them; the server's refusal comes from normalise_parameters
                # (the same words as the API: "Required for this scope").
                field.required = False
                field.widget.attrs["required"] = "required"
        if "service" in self.fields:
            self.fields["service"].widget.choices = [("", "— choose a service —"), *service_choices()]

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
