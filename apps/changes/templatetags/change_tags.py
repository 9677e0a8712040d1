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


# rollback_criteria key → (what is watched, unit). The keys the form and the validation checks use
# (apps.validation.judgement.CRITERIA_METRICS), read the way a reviewer says them.
ROLLBACK_CRITERIA_LABELS: dict[str, tuple[str, str]] = {
    "error_rate_pct": ("Error rate above", "%"),
    "p95_latency_ms": ("p95 latency above", "ms"),
    "window_minutes": ("Sustained for", "min"),
}


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def rollback_criterion_text(key: str, value) -> str:
    """"Error rate above 2.0 %"; an unknown key keeps its name, without underscores."""
    label, unit = ROLLBACK_CRITERIA_LABELS.get(key, (str(key).replace("_", " ").capitalize(), ""))
    return f"{label} {_number(value)} {unit}".strip()


@register.filter
def rollback_criteria(criteria) -> list[str]:
    """The change's rollback criteria as sentences, thresholds first, the window last."""
    if not isinstance(criteria, dict):
        return []
    order = list(ROLLBACK_CRITERIA_LABELS)
    keys = sorted(criteria, key=lambda k: (order.index(k) if k in order else len(order), str(k)))
    return [rollback_criterion_text(k, criteria[k]) for k in keys]


@register.filter
def stage_label(status: str, change) -> str:
    """A stage's status as the change's state lets it read: nothing is open on a draft (or on a
    change no longer in review), so its stages are "not yet open" / "not decided", never "open"."""
    if status in ("open", "waiting") and change is not None and change.state == "draft":
        return "not yet open"
    if status in ("open", "waiting") and change is not None and not getattr(change, "accepts_decisions", True):
        return "not decided"
    return status
