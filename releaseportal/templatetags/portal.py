"""Presentation filters and tags every page uses, loaded as template builtins (settings.TEMPLATES).

People are named by their full name where a person reads (`person`), with the username where an
auditor needs it (`person_audit`); timestamps read in words in the viewer's timezone (`when`,
`day`). The viewer's timezone is the one they chose on their profile (User.time_zone, set for the
request by apps.accounts.timezones.UserTimeZoneMiddleware through `viewer_time_zone`), else the
active one (TIME_ZONE). It changes only how times read: every computation (due dates, business
days, calendar days, reports) stays in the portal's timezone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django import template
from django.template.base import token_kwargs
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def person_name(user) -> str:
    """Full name, else username; "—" for nobody. Accepts a user or a plain string."""
    if user is None or user == "":
        return "—"
    if isinstance(user, str):
        return user
    full = (f"{getattr(user, 'first_name', '') or ''} {getattr(user, 'last_name', '') or ''}").strip()
    return full or getattr(user, "username", "") or str(user)


@register.filter
def person(user) -> str:
    return person_name(user)


@register.filter
def person_audit(user):
    """"Priya Raman (payments-lead)": the name a person reads and the account an auditor searches."""
    if user is None or user == "" or isinstance(user, str):
        return person_name(user)
    name = person_name(user)
    username = getattr(user, "username", "")
    if not username or name == username:
        return username or name
    return format_html('{} <span class="muted">({})</span>', name, username)


_viewer_zone: ContextVar[dt.tzinfo | None] = ContextVar("viewer_zone", default=None)


@contextmanager
def viewer_time_zone(zone: dt.tzinfo | None) -> Iterator[None]:
    """Times read in `zone` inside the block; None: in the active timezone (documents such as
    PDFs and evidence packs, which read the same whoever generates them)."""
    token = _viewer_zone.set(zone)
    try:
        yield
    finally:
        _viewer_zone.reset(token)


def display_zone() -> dt.tzinfo:
    return _viewer_zone.get() or timezone.get_current_timezone()


@register.simple_tag
def display_time_zone() -> str:
    """The name of the timezone this page's times read in (the footer)."""
    zone = display_zone()
    return getattr(zone, "key", None) or str(zone)


def when_text(value) -> str:
    """"3 Dec 2026, 17:24 UTC" in the active timezone; dates alone as "3 Dec 2026"."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        parsed = None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        local = timezone.localtime(value, display_zone())
        return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    if isinstance(value, dt.date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


@register.filter
def when(value) -> str:
    return when_text(value)


@register.filter
def day(value, empty: str = "—") -> str:
    """The date only, in the viewer's timezone: "3 Dec 2026"; `empty` where there is none
    (`{{ runbook.last_tested_at|day:"never" }}`)."""
    if value in (None, ""):
        return empty
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC),
                                   display_zone()).date()
    return when_text(value)


@register.filter
def when_tag(value):
    """A <time> element: words for people, the ISO instant for machines and screen readers."""
    if value in (None, ""):
        return "—"
    iso = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return format_html('<time datetime="{}">{}</time>', iso, when_text(value))


class ScrollRegionNode(template.Node):
    def __init__(self, nodelist, label, labelledby):
        self.nodelist, self.label, self.labelledby = nodelist, label, labelledby

    def render(self, context) -> str:
        inner = self.nodelist.render(context)
        if self.labelledby is not None:
            name = format_html('aria-labelledby="{}"', self.labelledby.resolve(context))
        else:
            name = format_html('aria-label="{}"', " ".join(str(part.resolve(context)) for part in self.label))
        return format_html('<div class="table-scroll" role="region" tabindex="0" {}>{}</div>', name, inner)


@register.tag
def scrollregion(parser, token):
    """{% scrollregion "Incidents" %}<table class="data">…</table>{% endscrollregion %}, or
    {% scrollregion labelledby="heading-id" %}: a wide table scrolls sideways inside its own box
    instead of widening the page (portal.css .table-scroll), at 1366 px as at 390 px. A box that
    scrolls must be reachable by keyboard (WCAG 2.1.1, axe scrollable-region-focusable), and a
    focusable region needs a name: so the box is a named region in the tab order. Several
    positional parts are joined with spaces: {% scrollregion "Wave" forloop.counter %}."""
    bits = token.split_contents()
    tag = bits.pop(0)
    kwargs = token_kwargs(bits, parser)
    labelledby = kwargs.pop("labelledby", None)
    label = [parser.compile_filter(bit) for bit in bits]
    if kwargs or bool(label) == (labelledby is not None):
        raise template.TemplateSyntaxError(
            f'{tag} takes one name: {{% {tag} "Label" %}} or {{% {tag} labelledby="heading-id" %}}')
    nodelist = parser.parse(("endscrollregion",))
    parser.delete_first_token()
    return ScrollRegionNode(nodelist, label, labelledby)
