from functools import lru_cache
from urllib.parse import quote

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.http import RFC3986_SUBDELIMS

register = template.Library()

_NUMBER_SLOT = "CHG-SLOT"

_STATE = {"draft": "badge-muted", "in_review": "badge-info", "approved": "badge-ok", "scheduled": "badge-ok",
          "implementing": "badge-warn", "completed": "badge-ok", "failed": "badge-bad", "rolled_back": "badge-bad",
          "rejected": "badge-bad", "cancelled": "badge-muted", "closed": "badge-muted"}
_RISK = {"low": "badge-ok", "medium": "badge-info", "high": "badge-warn", "critical": "badge-bad"}
_STAGE = {"approved": "badge-ok", "rejected": "badge-bad", "open": "badge-info", "waiting": "badge-muted",
          "pending": "badge-info", "not_required": "badge-muted"}


@register.filter
def state_badge(state: str) -> str:
    return _STATE.get(state, "badge-muted")


@register.filter
def risk_badge(level: str) -> str:
    return _RISK.get(level, "badge-muted")


@register.filter
def stage_badge(status: str) -> str:
    return _STAGE.get(status, "badge-muted")


@register.filter
def humanize_state(state: str) -> str:
    return (state or "").replace("_", " ")


@lru_cache(maxsize=64)
def _change_url_parts(action: str, script_prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(f"changes:{action}", args=[_NUMBER_SLOT]).partition(_NUMBER_SLOT)
    return head, tail


@register.filter
def change_url(number: str, action: str = "detail") -> str:
    """The URL of a change's page ("detail", "decide", ...) from its number, as `{% url %}` gives
    it: reversed once per page kind and script prefix, then filled in. The queue renders two per
    row, and a full reverse() for each was more than a quarter of the page's template time."""
    head, tail = _change_url_parts(action, get_script_prefix())
    # reverse() quotes arguments the same way (a str converter never holds "/").
    return f"{head}{quote(str(number), safe=RFC3986_SUBDELIMS + '~:@')}{tail}"
