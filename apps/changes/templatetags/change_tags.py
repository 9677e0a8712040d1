from django import template

register = template.Library()

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
