"""GET /api/v1/access/campaigns/ and /{id}/; POST /api/v1/access/items/{id}/decision/."""

from __future__ import annotations

import pytest

from apps.access_reviews.services import item_decide

pytestmark = pytest.mark.django_db

URL = "/api/v1/access/campaigns/"


@pytest.fixture
def campaign(team_lead, approver, requester, service, make_grant, open_campaign):
    make_grant(approver, service, "approver", last_used_days=2)
    make_grant(requester, service, "deployer", days_old=200)
    return open_campaign()


def test_the_campaign_list_shows_status_and_completion(api_client_for, auditor, team_lead, approver, campaign):
    item_decide(item=campaign.items.get(grant__user=approver), decision="keep", actor=team_lead)
    body = api_client_for(auditor).get(URL).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["status"] == "open" and row["scope"] == "all_production"
    assert row["completion"] == {"total": 2, "decided": 1, "open": 1, "percent": 50.0}


def test_the_campaign_detail_has_items_and_completion(api_client_for, access_admin, campaign,
                                                     django_assert_max_num_queries):
    client = api_client_for(access_admin)
    with django_assert_max_num_queries(14):
        body = client.get(f"{URL}{campaign.pk}/").json()
    assert body["completion"]["total"] == 2 and body["completion"]["open"] == 2
    assert body["completion_by_reviewer"] == [{"reviewer": "lena", "total": 2, "decided": 0, "percent": 0.0}]
    assert body["items"]["count"] == 2
    item = body["items"]["results"][0]
    assert item["reviewer"] == "lena" and item["grant"]["service"] == "payments-api" and item["decision"] == ""
    assert item["last_activity"]
    assert client.get(f"{URL}{campaign.pk}/", {"decision": "keep"}).json()["items"]["count"] == 0


def test_the_list_costs_a_fixed_number_of_queries(api_client_for, auditor, campaign, open_campaign,
                                                  django_assert_max_num_queries):
    client = api_client_for(auditor)
    with django_assert_max_num_queries(8) as first:
        client.get(URL)
    open_campaign(name="another")
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert client.get(URL).json()["count"] == 2


def test_an_access_admin_decides_through_the_api(api_client_for, access_admin, approver, campaign):
    item = campaign.items.get(grant__user=approver)
    client = api_client_for(access_admin)
    response = client.post(f"/api/v1/access/items/{item.pk}/decision/", {"decision": "revoke"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "revoke" and response.json()["decided_by"] == "gina"
    again = client.post(f"/api/v1/access/items/{item.pk}/decision/", {"decision": "keep"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"


def test_the_justification_rule_answers_422(api_client_for, access_admin, requester, campaign):
    item = campaign.items.get(grant__user=requester)
    response = api_client_for(access_admin).post(f"/api/v1/access/items/{item.pk}/decision/", {"decision": "keep"},
                                                 format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "justification_required"
    assert "justification" in response.json()["error"]["fields"]


def test_outsiders_and_anonymous_get_nothing(api_client, api_client_for, outsider, requester, campaign):
    item = campaign.items.first()
    for client, status in ((api_client, 401), (api_client_for(outsider), 403), (api_client_for(requester), 403)):
        assert client.get(URL).status_code == status
        assert client.get(f"{URL}{campaign.pk}/").status_code == status
        assert client.post(f"/api/v1/access/items/{item.pk}/decision/", {"decision": "keep"},
                           format="json").status_code == status
    assert campaign.items.filter(decision="").count() == 2


def test_a_reviewer_without_the_access_scope_is_refused(client, team_lead, campaign):
    # Reviewers have no access:read scope: the API is for access admins, auditors and tools.
    client.force_login(team_lead)
    assert client.get(URL).status_code == 403
