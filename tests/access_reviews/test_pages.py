"""Pages: reviewer page (htmx decisions, bulk), campaigns, grants; who sees what; query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.access_reviews.models import ReviewItem
from apps.access_reviews.services import campaign_close, item_decide
from apps.catalog.privileges import holds_privilege
from releaseportal.errors import Conflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_with_items(team_lead, approver, requester, implementer, service, make_grant, open_campaign):
    make_grant(approver, service, "approver", last_used_days=2)
    make_grant(requester, service, "deployer", days_old=200)
    make_grant(implementer, service, "deployer", last_used_days=5)
    return open_campaign()


def test_the_reviewer_sees_their_open_items(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    response = client.get(reverse("access_reviews:reviews"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "My open review items" in body
    assert body.count('class="review-item') == 3
    assert "required to keep: unused" in body  # rita's stale grant prompts for a justification


def test_reviewer_page_filters(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    body = client.get(reverse("access_reviews:reviews"), {"inactive": "1"}).content.decode()
    assert body.count('class="review-item') == 1 and "rita" in body
    body = client.get(reverse("access_reviews:reviews"), {"privilege": "approver"}).content.decode()
    assert body.count('class="review-item') == 1 and "adam" in body
    body = client.get(reverse("access_reviews:reviews"), {"holder": "iva"}).content.decode()
    assert body.count('class="review-item') == 1


def test_the_reviewer_page_costs_a_fixed_number_of_queries(client, team_lead, campaign_with_items, make_grant,
                                                            cab_member, release_manager, service,
                                                            django_assert_max_num_queries, open_campaign):
    client.force_login(team_lead)
    client.get(reverse("access_reviews:reviews"))  # warm the session and content types
    with django_assert_max_num_queries(12) as first:
        client.get(reverse("access_reviews:reviews"))
    make_grant(cab_member, service, last_used_days=1)
    make_grant(release_manager, service, last_used_days=1)
    open_campaign(name="second")
    with django_assert_max_num_queries(len(first.captured_queries)):
        response = client.get(reverse("access_reviews:reviews"))
    assert response.content.decode().count('class="review-item') == 8  # one page of 25


def test_a_service_accounts_token_use_is_its_activity_on_the_page(client, team_lead, service_account, service,
                                                                  make_grant, open_campaign, token_for, clock,
                                                                  django_assert_max_num_queries):
    from apps.accounts.models import ApiToken

    clock("2026-12-03 09:00")
    make_grant(service_account, service, "deployer", days_old=300)
    token_for(service_account)
    used = timezone.now() - timedelta(days=2)
    ApiToken.objects.filter(user=service_account).update(last_used_at=used)
    open_campaign()
    client.force_login(team_lead)
    client.get(reverse("access_reviews:reviews"))
    # The token look-up is one query for the page, on top of the page's own.
    with django_assert_max_num_queries(12):
        body = client.get(reverse("access_reviews:reviews")).content.decode()
    assert "token 1 Dec 2026" in body and "inactive 2 days" in body
    assert "required to keep" not in body


def test_the_reviewer_page_reads_one_page_of_rows_not_every_item(client, team_lead, campaign_with_items):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(team_lead)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("access_reviews:reviews"))
    item_reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "access_reviews_reviewitem"')]
    assert len(item_reads) == 1 and item_reads[0].endswith('ORDER BY "access_reviews_reviewitem"."id" ASC LIMIT 3')
    grant_reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "access_reviews_accessgrant"')]
    assert len(grant_reads) == 1 and '"accounts_team"' in grant_reads[0]  # holder, service, team in one read


def test_an_htmx_decision_returns_the_updated_row(client, team_lead, campaign_with_items, approver):
    item = campaign_with_items.items.get(grant__user=approver)
    client.force_login(team_lead)
    response = client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "revoke"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="item-{item.pk}"') and "Revoke" in body and "by lena" in body
    assert ReviewItem.objects.get(pk=item.pk).decision == "revoke"


def test_the_row_prompts_for_a_missing_justification(client, team_lead, campaign_with_items, requester):
    item = campaign_with_items.items.get(grant__user=requester)
    client.force_login(team_lead)
    response = client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "keep"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    body = response.content.decode()
    assert 'role="alert"' in body and "needs a justification" in body and 'aria-invalid="true"' in body
    assert ReviewItem.objects.get(pk=item.pk).decision == ""
    client.post(reverse("access_reviews:item-decide", args=[item.pk]),
                {"decision": "keep", "justification": "year-end release duty"}, HTTP_HX_REQUEST="true")
    assert ReviewItem.objects.get(pk=item.pk).justification == "year-end release duty"


def test_an_htmx_decision_with_a_bad_value_is_a_400_naming_the_field(client, team_lead, campaign_with_items,
                                                                       approver):
    item = campaign_with_items.items.get(grant__user=approver)
    client.force_login(team_lead)
    response = client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "keep_until"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Keep until which date?" in response.content.decode()
    assert ReviewItem.objects.get(pk=item.pk).decision == ""


def test_a_conflicting_decision_is_shown_not_applied(client, team_lead, access_admin, campaign_with_items, approver):
    item = campaign_with_items.items.get(grant__user=approver)
    item_decide(item=item, decision="keep", actor=access_admin)
    client.force_login(team_lead)
    response = client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "revoke"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    body = response.content.decode()
    assert "Already decided" in body and body.strip().startswith(f'<tr id="item-{item.pk}"')
    assert ReviewItem.objects.get(pk=item.pk).decision == "keep"


def test_bulk_keep_on_a_filtered_set(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    ids = list(campaign_with_items.items.values_list("pk", flat=True))
    response = client.post(reverse("access_reviews:items-bulk"), {"items": ids, "decision": "keep"}, follow=True)
    body = response.content.decode()
    assert "2 items decided" in body and "1 items skipped" in body
    assert campaign_with_items.items.filter(decision="keep").count() == 2


def test_someone_elses_items_are_not_found(client, cab_member, campaign_with_items):
    item = campaign_with_items.items.first()
    client.force_login(cab_member)
    assert client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "keep"}).status_code == 404
    client.post(reverse("access_reviews:items-bulk"), {"items": [item.pk], "decision": "keep"})
    assert ReviewItem.objects.get(pk=item.pk).decision == ""
    assert client.get(reverse("access_reviews:campaign", args=[campaign_with_items.pk])).status_code == 404


def test_an_access_admin_opens_and_closes_a_campaign_in_the_browser(client, access_admin, approver, service,
                                                                    make_grant, environments):
    grant = make_grant(approver, service, last_used_days=1)
    client.force_login(access_admin)
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(reverse("access_reviews:campaign-open"),
                           {"name": "Payments Q4", "scope": "all_production", "due_date": due,
                            "revoke_undecided_inactive": "on"}, follow=True)
    assert "Payments Q4 is open with 1 items" in response.content.decode()
    item = ReviewItem.objects.get(grant=grant)
    client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "revoke"})
    response = client.post(reverse("access_reviews:campaign-close", args=[item.campaign_id]), follow=True)
    assert "Revoked 1 by decision" in response.content.decode()
    assert not holds_privilege(approver, "approver", service, environments["prod"])


def test_the_admin_overview_shows_completion_per_reviewer_and_team(client, access_admin, team_lead,
                                                                   campaign_with_items, approver,
                                                                   django_assert_max_num_queries):
    item_decide(item=campaign_with_items.items.get(grant__user=approver), decision="keep", actor=team_lead)
    client.force_login(access_admin)
    url = reverse("access_reviews:campaign", args=[campaign_with_items.pk])
    client.get(url)
    with django_assert_max_num_queries(16):
        response = client.get(url)
    body = response.content.decode()
    assert "Completion by reviewer" in body and "Completion by team" in body
    assert "33.3 %" in body and "1 / 3" in body


def test_the_campaign_page_costs_the_same_queries_for_3_or_8_items(client, access_admin, team_lead,
                                                                   campaign_with_items, approver, make_grant,
                                                                   cab_member, release_manager, service,
                                                                   django_assert_max_num_queries):
    item_decide(item=campaign_with_items.items.get(grant__user=approver), decision="keep", actor=team_lead)
    client.force_login(access_admin)
    url = reverse("access_reviews:campaign", args=[campaign_with_items.pk])
    client.get(url)
    with django_assert_max_num_queries(16) as first:
        client.get(url)
    for person in (cab_member, release_manager):
        for privilege in ("approver", "deployer"):
            # Rows naming every person a row can show: reviewer, original reviewer, decider.
            item = ReviewItem.objects.create(campaign=campaign_with_items, reviewer=access_admin,
                                             reassigned_from=team_lead,
                                             grant=make_grant(person, service, privilege, last_used_days=1))
            item_decide(item=item, decision="revoke", actor=access_admin)
    with django_assert_max_num_queries(len(first.captured_queries)):
        body = client.get(url).content.decode()
    assert body.count('class="review-item') == 7 and "by gina" in body and "(for lena)" in body


def test_opening_with_bad_input_says_why(client, access_admin):
    client.force_login(access_admin)
    response = client.post(reverse("access_reviews:campaign-open"), {"name": "", "scope": "team",
                                                                     "due_date": "2001-01-01"}, follow=True)
    assert "The campaign is not valid" in response.content.decode()


def test_reviewers_cannot_open_or_close(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    assert client.post(reverse("access_reviews:campaign-open"), {}).status_code == 403
    assert client.post(reverse("access_reviews:campaign-close", args=[campaign_with_items.pk])).status_code == 403
    # A reviewer sees the campaign (their items only), not the completion overview.
    response = client.get(reverse("access_reviews:campaign", args=[campaign_with_items.pk]))
    assert response.status_code == 200 and "Completion by reviewer" not in response.content.decode()


def test_the_report_downloads_for_auditors(client, auditor, access_admin, campaign_with_items):
    from apps.access_reviews.evidence import campaign_reports_store

    closed = campaign_close(campaign=campaign_with_items, actor=access_admin).campaign
    reports = {r.format: r for r in campaign_reports_store(campaign=closed, actor=access_admin)}
    client.force_login(auditor)
    response = client.get(reverse("access_reviews:report", args=[campaign_with_items.pk, "csv"]))
    assert response.status_code == 200 and response["X-Content-SHA256"] == reports["csv"].sha256
    assert b"holder" in response.content
    assert client.get(reverse("access_reviews:report", args=[campaign_with_items.pk, "pdf"])).content[:4] == b"%PDF"


def test_the_grants_page_lists_and_revokes(client, access_admin, approver, service, make_grant, environments,
                                           django_assert_max_num_queries, requester):
    grant = make_grant(approver, service)
    make_grant(requester, service, "deployer")
    client.force_login(access_admin)
    client.get(reverse("access_reviews:grants"))
    with django_assert_max_num_queries(12):
        body = client.get(reverse("access_reviews:grants")).content.decode()
    assert "adam" in body and "rita" in body and "Grant a privilege" in body
    response = client.post(reverse("access_reviews:grant-revoke", args=[grant.pk]), {"reason": "rotation"},
                           follow=True)
    from apps.access_reviews.explain import REVOCATION_APPLIED

    assert REVOCATION_APPLIED.split(":")[0] in response.content.decode()
    assert not holds_privilege(approver, "approver", service, environments["prod"])


def test_the_grants_page_grants(client, access_admin, approver, service, environments):
    client.force_login(access_admin)
    client.post(reverse("access_reviews:grant-new"), {"user": "adam", "privilege": "deployer",
                                                      "service": "payments-api", "environment": "prod",
                                                      "justification": "release rota"})
    assert holds_privilege(approver, "deployer", service, environments["prod"])


def test_members_see_only_their_own_grants(client, approver, requester, service, make_grant):
    make_grant(approver, service)
    make_grant(requester, service, "deployer")
    client.force_login(requester)
    body = client.get(reverse("access_reviews:grants")).content.decode()
    assert "rita" in body and "adam" not in body and "Grant a privilege" not in body


def test_the_dashboard_shows_my_open_items(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    body = client.get(reverse("home")).content.decode()
    assert "My open review items" in body and "3</strong> grants waiting" in body


ALL_PAGES = [("reviews", []), ("campaigns", []), ("campaign", ["C"]), ("grants", []), ("report", ["C", "csv"])]
POSTS = [("item-decide", ["I"]), ("items-bulk", []), ("campaign-open", []), ("campaign-close", ["C"]),
         ("grant-new", []), ("grant-revoke", ["G"])]


def _args(args, campaign, item):
    return [{"C": campaign.pk, "I": item.pk, "G": item.grant_id}.get(a, a) for a in args]


def test_anonymous_visitors_are_sent_to_sign_in(client, campaign_with_items):
    item = campaign_with_items.items.first()
    for name, args in ALL_PAGES + POSTS:
        url = reverse(f"access_reviews:{name}", args=_args(args, campaign_with_items, item))
        response = client.post(url) if (name, args) in POSTS else client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], name


def test_an_outsider_gets_nothing(client, outsider, campaign_with_items):
    item = campaign_with_items.items.first()
    client.force_login(outsider)
    for name, args in ALL_PAGES + POSTS:
        url = reverse(f"access_reviews:{name}", args=_args(args, campaign_with_items, item))
        response = client.post(url, {"decision": "keep", "items": [item.pk], "reason": "x"}) if (name, args) in POSTS \
            else client.get(url)
        assert response.status_code in (403, 404), name
    assert ReviewItem.objects.filter(decision="").count() == 3
    assert "Access reviews" not in client.get("/account/profile/").content.decode()


def test_bulk_revoke_on_every_item_matching_the_filters(client, team_lead, campaign_with_items):
    client.force_login(team_lead)
    response = client.post(reverse("access_reviews:items-bulk"), {"scope": "matching", "privilege": "deployer",
                                                                  "decision": "revoke"}, follow=True)
    assert "2 items decided" in response.content.decode()
    assert set(campaign_with_items.items.filter(decision="revoke").values_list("grant__privilege", flat=True)) == {
        "deployer"}
    assert campaign_with_items.items.filter(decision="").count() == 1


def test_the_service_page_lists_production_privileges(client, requester, approver, service, make_grant):
    make_grant(approver, service, "approver")
    make_grant(requester, service, "deployer", env="staging")
    client.force_login(requester)
    body = client.get(reverse("catalog:service", args=[service.slug])).content.decode()
    assert "Production privileges" in body and "adam" in body


def test_a_large_campaign_closes_in_the_background_for_the_admin_who_asked(
        client, access_admin, approver, service, make_grant, environments, settings, monkeypatch,
        django_capture_on_commit_callbacks):
    """Above the in-request limit the page marks the campaign closing (decisions stop, audited) and
    a worker applies the outcomes acting for the same admin."""
    from apps.access_reviews import tasks
    from apps.access_reviews.models import ReviewCampaign
    from apps.audit.models import AuditEvent

    settings.ACCESS_REVIEW_CLOSE_IN_REQUEST_MAX_ITEMS = 0
    queued = []
    monkeypatch.setattr(tasks.close_campaign, "delay", lambda *args: queued.append(args))
    grant = make_grant(approver, service, last_used_days=1)
    client.force_login(access_admin)
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    client.post(reverse("access_reviews:campaign-open"),
                {"name": "Big Q4", "scope": "all_production", "due_date": due}, follow=True)
    item = ReviewItem.objects.get(grant=grant)
    client.post(reverse("access_reviews:item-decide", args=[item.pk]), {"decision": "revoke"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("access_reviews:campaign-close", args=[item.campaign_id]), follow=True)
    body = response.content.decode()
    assert "a worker is applying the outcomes" in body and "closing: outcomes being applied" in body
    campaign = ReviewCampaign.objects.get(pk=item.campaign_id)
    assert campaign.status == "closing" and queued == [(campaign.pk, access_admin.pk)]
    requested = AuditEvent.objects.get(action="access_review.campaign_close_requested")
    assert requested.actor_label == access_admin.username and requested.details == {"items": 1}
    assert campaign.history.first().status == "closing" and campaign.history.first().history_user == access_admin
    with pytest.raises(Conflict) as refused:  # no decision lands on a closing campaign
        item_decide(item=ReviewItem.objects.get(pk=item.pk), decision="keep", actor=access_admin)
    assert refused.value.code == "campaign_closed"
    # A second close request while closing is refused.
    response = client.post(reverse("access_reviews:campaign-close", args=[item.campaign_id]), follow=True)
    assert "closing or closed already" in response.content.decode()
    assert holds_privilege(approver, "approver", service, environments["prod"])
    listing = client.get(reverse("access_reviews:campaigns")).content.decode()
    assert '<span class="badge badge-warn">closing</span>' in listing

    assert tasks.close_campaign(campaign.pk, access_admin.pk)["revoked"] == 1  # what the worker runs
    campaign.refresh_from_db()
    assert campaign.status == "closed" and campaign.closed_by == access_admin
    closed = AuditEvent.objects.get(action="access_review.campaign_closed")
    assert closed.actor_type == "task" and "close_campaign" in closed.actor_label
    assert not holds_privilege(approver, "approver", service, environments["prod"])
    assert tasks.close_campaign(campaign.pk, access_admin.pk) is None  # a retry changes nothing
    assert AuditEvent.objects.filter(action="access_review.campaign_closed").count() == 1
