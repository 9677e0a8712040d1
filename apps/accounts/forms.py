from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from apps.audit.middleware import client_ip

from . import roles
from .services import login_attempt_record, login_check_reserve


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Wait a few minutes and try again.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request else ""
        if not (username and self.cleaned_data.get("password")):
            return super().clean()  # nothing to check: the required-field errors say so
        # The slot is taken before the password is checked, so concurrent guesses cannot all pass.
        if not login_check_reserve(username=username, ip=ip):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_attempt_record(username=username, ip=ip, succeeded=False)
            raise
        login_attempt_record(username=username, ip=ip, succeeded=True)
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'payments deploy pipeline'")
    scopes = forms.MultipleChoiceField(choices=[], widget=forms.CheckboxSelectMultiple, required=False,
                                       help_text="Leave empty for every scope your roles allow")
    expires_in_days = forms.IntegerField(min_value=1, max_value=3650, required=False, initial=90)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = roles.allowed_scopes(user)
        self.fields["scopes"].choices = [(s, f"{s} — {d}") for s, d in roles.SCOPES.items() if s in allowed]
