"""Every write of access reviews: grants (grants.py) and review campaigns (campaigns.py)."""

from .campaigns import (  # noqa: F401
    CloseResult,
    campaign_close,
    campaign_escalate_overdue,
    campaign_open,
    campaign_open_quarterly,
    campaign_reminders_send,
    item_decide,
    item_reassign,
    items_decide_bulk,
    quarter_period,
)
from .grants import (  # noqa: F401
    grant_create,
    grant_record_use,
    grant_revoke,
    grants_expire_due,
    grants_flag_for_review,
)
from .history import history_attrs  # noqa: F401
