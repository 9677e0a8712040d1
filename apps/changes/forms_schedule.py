"""Forms of the schedule pages: maintenance windows (with a recurrence builder and the stakeholder
SLA), freezes, ending either early, and recording who agreed to a window's SLA.

The recurrence builder turns frequency / interval / weekdays / until / count into the RFC 5545
rule the model keeps (the API still takes the rule itself)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from dateutil.rrule import rrulestr
from django import forms
from django.contrib.auth import get_user_model

from apps.catalog.models import Environment, Service

from .forms import DATETIME_WIDGET
from .models import NoticeUnit

FREQUENCIES = [("", "Once (no repeat)"), ("DAILY", "Daily"), ("WEEKLY", "Weekly"), ("MONTHLY", "Monthly")]
WEEKDAYS = [("MO", "Monday"), ("TU", "Tuesday"), ("WE", "Wednesday"), ("TH", "Thursday"), ("FR", "Friday"),
            ("SA", "Saturday"), ("SU", "Sunday")]
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def build_rrule(*, frequency: str, interval: int | None, weekdays: list[str], until, count: int | None) -> str:
    """The rule for the builder's choices; "" for a one-off window."""
    if not frequency:
        return ""
    parts = [f"FREQ={frequency}"]
    if interval and interval > 1:
        parts.append(f"INTERVAL={interval}")
    if weekdays:
        parts.append("BYDAY=" + ",".join(code for code, _ in WEEKDAYS if code in weekdays))
    if until:
        # The end of that day, in UTC (RFC 5545: UNTIL in UTC when DTSTART is zoned).
        parts.append("UNTIL=" + datetime.combine(until, time(23, 59, 59), tzinfo=UTC).strftime("%Y%m%dT%H%M%SZ"))
    elif count:
        parts.append(f"COUNT={count}")
    return ";".join(parts)


def rrule_to_builder(rule: str) -> dict | None:
    """The builder's fields for a rule it can express; None for anything else (then the page shows
    the rule in the advanced field, so editing never loses a part)."""
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        return {"frequency": ""}
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        if "=" not in piece:
            return None
        key, value = piece.split("=", 1)
        parts[key.upper()] = value
    if not set(parts) <= {"FREQ", "INTERVAL", "BYDAY", "UNTIL", "COUNT"} or parts.get("FREQ") not in {
            "DAILY", "WEEKLY", "MONTHLY"}:
        return None
    days = parts.get("BYDAY", "").split(",") if parts.get("BYDAY") else []
    if any(d not in dict(WEEKDAYS) for d in days):
        return None
    initial: dict = {"frequency": parts["FREQ"], "interval": int(parts.get("INTERVAL", "1") or 1), "weekdays": days}
    if "UNTIL" in parts:
        try:
            initial["until"] = datetime.strptime(parts["UNTIL"][:8], "%Y%m%d").date()
        except ValueError:
            return None
    if "COUNT" in parts:
        initial["count"] = int(parts["COUNT"]) if parts["COUNT"].isdigit() else None
    return initial


class WindowForm(forms.Form):
    name = forms.CharField(max_length=120)
    service = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), required=False, to_field_name="slug",
                                     empty_label="Every service")
    environment = forms.ModelChoiceField(queryset=Environment.objects.order_by("order"), required=False,
                                         to_field_name="slug", empty_label="Every environment")
    starts_at = forms.DateTimeField(widget=DATETIME_WIDGET, label="First occurrence starts",
                                    help_text="In the portal's timezone")
    duration_minutes = forms.IntegerField(min_value=5, max_value=24 * 60 * 7, initial=120, label="Window length (minutes)")
    frequency = forms.ChoiceField(choices=FREQUENCIES, required=False, label="Repeats")
    interval = forms.IntegerField(min_value=1, max_value=52, required=False, initial=1, label="Every",
                                  help_text="1 = every day / week / month; 2 = every other one")
    weekdays = forms.MultipleChoiceField(choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple,
                                         label="On these days")
    until = forms.DateField(required=False, widget=DATE_WIDGET, label="Until (last day)")
    count = forms.IntegerField(min_value=1, max_value=1000, required=False, label="Or: number of occurrences")
    rrule = forms.CharField(max_length=300, required=False, label="Advanced: RFC 5545 rule",
                            help_text="Only for what the choices above cannot say (e.g. FREQ=MONTHLY;BYDAY=1SA); "
                                      "it replaces them")
    notice_amount = forms.IntegerField(min_value=0, max_value=365, required=False, label="Notice period",
                                       help_text="How much notice a change planned into this window must give")
    notice_unit = forms.ChoiceField(choices=NoticeUnit.choices, initial=NoticeUnit.BUSINESS_DAYS, required=False,
                                    label="Notice unit")
    max_change_minutes = forms.IntegerField(min_value=1, max_value=24 * 60 * 7, required=False,
                                            label="Allowed change duration (minutes)")
    review_on = forms.DateField(required=False, widget=DATE_WIDGET, label="SLA review date")

    BUILDER = ("frequency", "interval", "weekdays", "until", "count")

    def clean(self):
        data = super().clean()
        raw = (data.get("rrule") or "").strip()
        if raw:
            rule = raw
        else:
            if data.get("until") and data.get("count"):
                self.add_error("count", "Give an end date or a number of occurrences, not both.")
                return data
            if data.get("weekdays") and data.get("frequency") not in ("WEEKLY", "MONTHLY"):
                self.add_error("weekdays", "Weekdays apply to a weekly or monthly window.")
                return data
            rule = build_rrule(frequency=data.get("frequency") or "", interval=data.get("interval"),
                               weekdays=data.get("weekdays") or [], until=data.get("until"), count=data.get("count"))
        if rule and data.get("starts_at"):
            try:
                rrulestr(rule[6:] if rule.upper().startswith("RRULE:") else rule, dtstart=data["starts_at"])
            except (ValueError, TypeError) as exc:
                self.add_error("rrule" if raw else "frequency", f"Not a valid recurrence: {exc}")
        data["rrule"] = rule
        return data

    def service_kwargs(self) -> dict:
        """The fields services.maintenance_window_create / schedule_services.maintenance_window_update take."""
        data = dict(self.cleaned_data)
        for name in self.BUILDER:
            data.pop(name, None)
        data["notice_unit"] = data.get("notice_unit") or NoticeUnit.BUSINESS_DAYS
        return data

    @classmethod
    def initial_for(cls, window) -> dict:
        initial = {"name": window.name, "service": window.service, "environment": window.environment,
                   "starts_at": window.starts_at, "duration_minutes": window.duration_minutes,
                   "notice_amount": window.notice_amount, "notice_unit": window.notice_unit,
                   "max_change_minutes": window.max_change_minutes, "review_on": window.review_on}
        builder = rrule_to_builder(window.rrule)
        if builder is None:
            initial["rrule"] = window.rrule
        else:
            initial.update(builder)
        return initial


class FreezeForm(forms.Form):
    name = forms.CharField(max_length=120)
    reason = forms.CharField(max_length=300)
    starts_at = forms.DateTimeField(widget=DATETIME_WIDGET, help_text="In the portal's timezone")
    ends_at = forms.DateTimeField(widget=DATETIME_WIDGET, help_text="In the portal's timezone")
    service = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), required=False, to_field_name="slug",
                                     empty_label="Every service")
    environment = forms.ModelChoiceField(queryset=Environment.objects.order_by("order"), required=False,
                                         to_field_name="slug", empty_label="Every environment")
    team = forms.ModelChoiceField(queryset=None, required=False, to_field_name="slug", empty_label="Every team")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from apps.accounts.models import Team

        self.fields["team"].queryset = Team.objects.order_by("name")

    @classmethod
    def initial_for(cls, freeze) -> dict:
        return {"name": freeze.name, "reason": freeze.reason, "starts_at": freeze.starts_at, "ends_at": freeze.ends_at,
                "service": freeze.service, "environment": freeze.environment, "team": freeze.team}


class EndEarlyForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why end it now?")


class AgreementForm(forms.Form):
    user = forms.ModelChoiceField(queryset=None, required=False, to_field_name="username", label="Person who agreed",
                                  empty_label="— nobody in the portal —")
    group_name = forms.CharField(max_length=120, required=False, label="Or: stakeholder group",
                                 help_text="e.g. Card operations, Finance close team")
    agreed_at = forms.DateTimeField(widget=DATETIME_WIDGET, required=False, label="Agreed on",
                                    help_text="Blank for now")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True, kind="human").order_by(
            "first_name", "last_name", "username")
        self.fields["user"].label_from_instance = lambda u: u.get_full_name() or u.username

    def clean(self):
        data = super().clean()
        if not data.get("user") and not (data.get("group_name") or "").strip():
            self.add_error("user", "Name a person or a stakeholder group.")
        return data
