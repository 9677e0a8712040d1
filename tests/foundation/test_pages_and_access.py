"""Every foundation page and endpoint: anonymous users and outsiders get nothing; members do."""

import csv
import io

import pytest

from apps.audit.models import AuditEvent
from apps.audit.services import PendingEvent, audit_events_record_many
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

MEMBER_PAGES = ["/", "/services/", "/services/payments-api/", "/environments/"]
AUDITOR_PAGES = ["/audit/log/", "/audit/log.csv"]
API_ENDPOINTS = ["/api/v1/services/", "/api/v1/services/payments-api/", "/api/v1/environments/", "/api/v1/tokens/"]


@pytest.mark.parametrize("url", MEMBER_PAGES + AUDITOR_PAGES + ["/services/payments-api/edit/", "/account/"])
def test_anonymous_users_are_sent_to_sign_in(client, service, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


@pytest.mark.parametrize("url", MEMBER_PAGES + AUDITOR_PAGES + ["/services/payments-api/edit/"])
def test_outsiders_get_nothing(client, outsider, service, url):
    client.force_login(outsider)
    response = client.get(url)
    assert response.status_code in (403, 404)
    assert b"payments-api" not in response.content


@pytest.mark.parametrize("url", API_ENDPOINTS)
def test_api_refuses_anonymous_and_outsiders(api_client, api_client_for, outsider, service, url):
    assert api_client.get(url).status_code == 401
    response = api_client_for(outsider).get(url)
    assert response.status_code == 403
    assert "error" in response.json()


@pytest.mark.parametrize("url", MEMBER_PAGES)
def test_members_see_member_pages(client, requester, service, environments, url):
    client.force_login(requester)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", AUDITOR_PAGES)
def test_the_audit_log_is_for_auditors_only(client, requester, auditor, superuser, url):
    client.force_login(requester)
    assert client.get(url).status_code == 403
    client.force_login(auditor)
    assert client.get(url).status_code == 200
    client.force_login(superuser)
    assert client.get(url).status_code == 200


def test_navigation_follows_roles(client, requester, auditor):
    client.force_login(requester)
    assert b'href="/audit/log/"' not in client.get("/").content
    client.force_login(auditor)
    assert b'href="/audit/log/"' in client.get("/").content


def test_the_profile_shows_a_new_token_once(client, requester):
    client.force_login(requester)
    response = client.post("/account/", {"name": "laptop", "scopes": ["changes:read"], "expires_in_days": "30"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw and raw.encode() in response.content
    again = client.get("/account/")
    assert raw.encode() not in again.content and b"laptop" in again.content


def test_a_token_is_revoked_from_the_profile_and_only_by_its_owner(client, requester, approver, token_for):
    from apps.accounts.models import ApiToken

    token_for(requester)
    token = ApiToken.objects.get(user=requester)
    client.force_login(approver)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    client.force_login(requester)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


class TestAuditLogPage:
    @pytest.fixture
    def events(self, requester, approver, service):
        audit_events_record_many(events=[PendingEvent(action="change.submitted", target=service)] * 3, actor=requester)
        audit_events_record_many(events=[PendingEvent(action="change.approved", target=service)] * 2, actor=approver)

    def test_it_filters_by_actor_action_object_and_date(self, client, auditor, events, service):
        client.force_login(auditor)
        rows = client.get("/audit/log/?actor=adam").context["page_obj"]
        assert {e.action for e in rows} == {"change.approved"} and len(rows) == 2
        rows = client.get("/audit/log/?action=change.submitted").context["page_obj"]
        assert len(rows) == 3
        rows = client.get(f"/audit/log/?object_type=catalog.service&object_id={service.pk}").context["page_obj"]
        assert len(rows) == 5
        assert len(client.get("/audit/log/?date_from=2000-01-01&date_to=2000-01-02").context["page_obj"]) == 0

    def test_it_paginates(self, client, auditor, requester):
        audit_events_record_many(events=[PendingEvent(action="bulk.x")] * 120, actor=requester)
        client.force_login(auditor)
        first = client.get("/audit/log/").context["page_obj"]
        assert len(first) == 50 and first.has_next()
        third = client.get("/audit/log/?page=3").context["page_obj"]
        assert len(third) == 20 and not third.has_next()

    def test_the_page_costs_a_fixed_number_of_queries(self, client, auditor, requester, django_assert_max_num_queries):
        audit_events_record_many(events=[PendingEvent(action="bulk.x")] * 200, actor=requester)
        client.force_login(auditor)
        with django_assert_max_num_queries(10):
            assert client.get("/audit/log/?actor=rita").status_code == 200

    def test_csv_export_has_the_filtered_rows_and_is_itself_audited(self, client, auditor, events):
        client.force_login(auditor)
        response = client.get("/audit/log.csv?actor=rita")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0][:5] == ["seq", "created_at", "actor_label", "actor_type", "action"]
        assert {r[2] for r in rows[1:]} == {"rita"} and len(rows) == 4
        export = AuditEvent.objects.get(action="audit_log.exported")
        assert export.actor_label == "audra" and export.details == {"filters": {"actor": "rita"}}


def test_service_pages_cost_a_fixed_number_of_queries(client, requester, team, django_assert_max_num_queries):
    for n in range(40):
        ServiceFactory(slug=f"svc-{n}", owner_team=team)
    client.force_login(requester)
    with django_assert_max_num_queries(12):
        assert client.get("/services/").status_code == 200


def test_the_dashboard_names_the_roles(client, cab_member):
    client.force_login(cab_member)
    # Roles read as words, in the order the page sorts them.
    assert b"Roles: CAB member, approver" in client.get("/").content


def test_only_the_most_specific_navigation_entry_is_current(rf, requester):
    from releaseportal.navigation import NavItem, navigation

    request = rf.get("/services/payments-api/")
    request.user = requester
    items = navigation(request)["nav_items"]
    assert [i["label"] for i in items if i["active"]] == ["Services"]
    assert NavItem("x", "home").roles == ()
