"""What revoking a grant does, said once: the grant page and the campaign pages show the same
text (partials/revocation_explained.html) and end their messages with the same sentence, so
neither path can promise what the other does not."""

from __future__ import annotations

# After a revocation is applied, whichever path applied it.
REVOCATION_APPLIED = "A revoked grant no longer applies: its holder has lost the privilege on that service and environment."


def grant_revoked_message(*, privilege: str, service: str, holder: str) -> str:
    return f"Revoked {privilege} on {service} from {holder}. {REVOCATION_APPLIED}"


def campaign_closed_message(*, revoked: int, revoked_by_policy: int, kept: int, tokens_disabled: int) -> str:
    return (f"Closed. Revoked {revoked} by decision and {revoked_by_policy} by policy; kept {kept}; "
            f"{tokens_disabled} tokens disabled. {REVOCATION_APPLIED}")


CLOSING_MESSAGE = ("Closing: decisions have stopped and a worker is applying the outcomes. This page shows the result "
                   "when it is done.")
