from django import forms

from .models import COMPLIANCE_SCOPES, Service


class ServiceForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea, required=False)
    tier = forms.TypedChoiceField(choices=Service.Tier.choices, coerce=int)
    compliance_scopes = forms.MultipleChoiceField(choices=COMPLIANCE_SCOPES, widget=forms.CheckboxSelectMultiple,
                                                  required=False)
    repository_url = forms.URLField(required=False, assume_scheme="https")
