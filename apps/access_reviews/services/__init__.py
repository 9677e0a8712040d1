"""Every write of access reviews: grants (grants.py), opening a campaign (opening.py) and the rest
of a campaign's life (campaigns.py)."""

from apps.audit.history import history_attrs  # noqa: F401

from .campaigns import (  # noqa: F401
    CloseResult,
    campaign_close,
    campaign_close_request,
    campaign_escalate_overdue,
    campaign_reminders_send,
    item_decide,
    item_reassign,
    items_decide_bulk,
)
from .grants import (  # noqa: F401
    grant_create,
    grant_record_use,
    grant_revoke,
    grants_expire_due,
    grants_flag_for_review,
)
from .opening import campaign_open, campaign_open_quarterly, quarter_period  # noqa: F401
