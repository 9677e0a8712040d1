"""One strict datetime filter for every `*_after`/`*_before` list parameter.

A datetime with a UTC offset beyond ±15:59 (PostgreSQL's "time zone displacement out of
range") or a year that overflows when converted to UTC is a 400 naming the parameter, through
the filterset's own validation (DjangoFilterBackend turns its errors into a ValidationError)."""

from __future__ import annotations

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from releaseportal.input import datetime_problem


class StrictIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        try:
            parsed = super().to_python(value)
        except OverflowError:  # making a naive value aware overflowed
            raise forms.ValidationError("out of range", code="invalid") from None
        problem = datetime_problem(parsed) if parsed is not None else None
        if problem:
            raise forms.ValidationError(problem, code="invalid")
        return parsed


class StrictDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = StrictIsoDateTimeField
