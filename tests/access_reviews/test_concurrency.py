"""Two reviewers decide one item at the same moment: exactly one decision wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.access_reviews.models import ReviewItem
from apps.access_reviews.services import item_decide
from releaseportal.errors import Conflict

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_reviewers_deciding_one_item_at_once_one_wins(team_lead, access_admin, approver, service, make_grant,
                                                          open_campaign):
    grant = make_grant(approver, service, last_used_days=1)
    item = open_campaign().items.get(grant=grant)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(user, decision):
        try:
            barrier.wait(timeout=10)
            item_decide(item=ReviewItem.objects.get(pk=item.pk), decision=decision, actor=user)
            outcomes[user.username] = "decided"
        except Conflict as exc:
            outcomes[user.username] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(team_lead, "keep")),
               threading.Thread(target=decide, args=(access_admin, "revoke"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes.values()) == ["already_decided", "decided"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "decided")
    item.refresh_from_db()
    assert item.decided_by.username == winner
    assert item.decision == ("keep" if winner == "lena" else "revoke")
    assert item.history.filter(decision__in=["keep", "revoke"]).count() == 1
