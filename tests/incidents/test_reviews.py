"""Blameless post-incident reviews: required for sev1/sev2, due within N days, action items."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.incidents import services
from apps.incidents.models import ActionItem, Review
from apps.incidents.reviews import (
    action_item_add,
    action_item_set_status,
    action_items_list,
    review_complete,
    review_due_date,
    review_save,
    review_start,
    reviews_list,
)
from releaseportal.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db


def _open(service, requester, severity, **kw):
    return services.incident_open(service=service, title="x", severity=severity,
                                  started_at=timezone.now() - timedelta(days=1), actor=requester, **kw)


@pytest.mark.parametrize("severity", ["sev1", "sev2"])
def test_a_review_is_created_when_a_sev1_or_sev2_incident_resolves(service, requester, severity, settings):
    settings.INCIDENT_REVIEW_DUE_DAYS = 5
    incident = _open(service, requester, severity)
    assert not Review.objects.filter(incident=incident).exists()
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    review = Review.objects.get(incident=incident)
    assert review.due_date == timezone.localdate(incident.resolved_at) + timedelta(days=5)


@pytest.mark.parametrize("severity", ["sev3", "sev4"])
def test_lower_severities_get_no_automatic_review_but_may_start_one(service, requester, severity):
    incident = _open(service, requester, severity)
    services.incident_post_update(incident=incident, actor=requester, to_status="resolved")
    assert not Review.objects.filter(incident=incident).exists()
    review = review_start(incident=incident, actor=requester)
    assert review.status == "draft"
    with pytest.raises(Conflict):
        review_start(incident=incident, actor=requester)


def test_the_due_date_counts_from_resolution_or_from_today(service, requester, settings):
    settings.INCIDENT_REVIEW_DUE_DAYS = 10
    incident = _open(service, requester, "sev3")
    assert review_due_date(incident, today=date(2026, 11, 1)) == date(2026, 11, 11)
    incident.resolved_at = timezone.make_aware(timezone.datetime(2026, 10, 30, 12))
    assert review_due_date(incident) == date(2026, 11, 9)


def test_a_review_is_overdue_after_its_due_date_until_completed(service, requester):
    incident = _open(service, requester, "sev3")
    review = review_start(incident=incident, actor=requester)
    Review.objects.filter(pk=review.pk).update(due_date=timezone.localdate() - timedelta(days=1))
    review.refresh_from_db()
    assert review.is_overdue() and list(reviews_list(overdue=True)) == [review]
    review = review_save(review=review, actor=requester, summary="s", contributing_factors="c")
    review_complete(review=review, actor=requester)
    review.refresh_from_db()
    assert not review.is_overdue() and list(reviews_list(overdue=True)) == []


def test_completion_needs_summary_and_factors_and_is_final(service, requester):
    review = review_start(incident=_open(service, requester, "sev3"), actor=requester)
    with pytest.raises(InvalidInput) as exc:
        review_complete(review=review, actor=requester)
    assert set(exc.value.fields) == {"summary", "contributing_factors"}
    review = review_save(review=review, actor=requester, summary="s", contributing_factors="c", what_went_well="w")
    review_complete(review=review, actor=requester)
    with pytest.raises(Conflict):
        review_save(review=review, actor=requester, summary="rewritten")


def test_action_items_have_owner_due_date_type_and_overdue_flag(service, requester):
    review = review_start(incident=_open(service, requester, "sev3"), actor=requester)
    late = action_item_add(review=review, title="Add canary gate", type="pipeline_check", owner=requester,
                           due_date=timezone.localdate() - timedelta(days=2), actor=requester)
    action_item_add(review=review, title="Alert on pool saturation", type="monitoring", owner=requester,
                    due_date=timezone.localdate() + timedelta(days=7), actor=requester)
    assert late.is_overdue()
    assert list(action_items_list(overdue=True)) == [late]
    action_item_set_status(item=late, status="done", actor=requester)
    late.refresh_from_db()
    assert late.completed_at and not late.is_overdue()
    assert list(action_items_list(overdue=True)) == []
    with pytest.raises(InvalidInput):
        action_item_add(review=review, title="x", type="blame", owner=requester, due_date=date.today(), actor=requester)
    assert ActionItem.objects.count() == 2
