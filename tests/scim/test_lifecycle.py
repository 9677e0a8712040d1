"""A person's whole life through the SCIM endpoints: provisioned, put in a team, deactivated —
and at that moment their sessions, tokens and deployment privileges are gone, with the reason
the access review shows."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from apps.access_reviews.models import AccessGrant
from apps.accounts.models import PortalSession, Team, TeamMembership, User
from apps.audit.models import AuditEvent
from tests.scim.conftest import SCIM_TYPE, audit_actions, user_body


def _sessions_of(user) -> list[str]:
    # Decoded, not read from the user column: this checks what the session says, whoever wrote it.
    return [s.session_key for s in PortalSession.objects.all()
            if s.get_decoded().get("_auth_user_id") == str(user.pk)]


@pytest.fixture(autouse=True)
def _pinned(clock):
    # Pinned before anything is written: history rows and the dates the review shows agree.
    clock("2026-12-03 09:00")


@pytest.fixture
def provisioned(scim):
    """alice, created over SCIM, then added over SCIM to a team SCIM created."""
    created = scim.post("/scim/v2/Users", user_body("alice"))
    assert created.status_code == 201, created.content
    assert created["Content-Type"] == SCIM_TYPE
    uid = created.json()["id"]
    group = scim.post("/scim/v2/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                          "displayName": "Platform", "externalId": "grp-platform"})
    assert group.status_code == 201, group.content
    gid = group.json()["id"]
    added = scim.patch(f"/scim/v2/Groups/{gid}", {"op": "add", "path": "members", "value": [{"value": uid}]})
    assert added.status_code == 200, added.content
    assert [m["value"] for m in added.json()["members"]] == [uid]
    return User.objects.get(pk=uid), Team.objects.get(pk=gid)


def test_a_person_is_created_and_put_in_a_team_by_the_scim_account(provisioned, idp, scim):
    alice, team = provisioned
    assert (alice.username, alice.first_name, alice.email, alice.is_active) == ("alice", "Alice", "alice@example.com",
                                                                                True)
    assert alice.kind == User.Kind.HUMAN and not alice.has_usable_password()
    assert TeamMembership.objects.filter(team=team, user=alice).exists() and team.name == "Platform"
    created = alice.history.earliest()
    assert created.history_user == idp and created.history_actor_kind == "service_account"
    assert team.history.earliest().history_user == idp
    assert TeamMembership.history.get(team_id=team.pk, user_id=alice.pk).history_user == idp
    assert audit_actions(idp) == ["scim.user_created", "scim.group_created", "team.member_added"]
    body = scim.get(f"/scim/v2/Users/{alice.pk}").json()
    assert body["externalId"] == "ext-alice" and body["groups"][0]["display"] == "Platform"
    assert scim.get(f"/scim/v2/Groups/{team.pk}").json()["externalId"] == "grp-platform"


@pytest.mark.parametrize("how", ["patch", "delete"])
def test_a_deactivated_person_loses_sessions_tokens_and_grants_at_once(
        how, provisioned, idp, scim, prod_grant, access_admin, requester, token_for):
    from apps.access_reviews.services import campaign_open

    alice, _ = provisioned
    grants = [prod_grant(alice, "deployer"), prod_grant(alice, "approver")]
    campaign = campaign_open(name="Q4 review", due_date=date(2026, 12, 20), actor=access_admin)
    browser, phone, colleague = Client(), Client(), Client()
    browser.force_login(alice)
    phone.force_login(alice)
    colleague.force_login(requester)
    raw = token_for(alice)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(reverse("api-tokens")).status_code == 200
    assert len(_sessions_of(alice)) == 2

    if how == "patch":
        response = scim.patch(f"/scim/v2/Users/{alice.pk}", {"op": "replace", "path": "active", "value": False})
        assert response.status_code == 200, response.content
        assert response.json()["active"] is False
    else:
        response = scim.delete(f"/scim/v2/Users/{alice.pk}")
        assert response.status_code == 204, response.content

    # Never a hard delete: the account stays for the trail, inactive.
    alice.refresh_from_db()
    assert alice.is_active is False
    assert scim.get(f"/scim/v2/Users/{alice.pk}").json()["active"] is False
    # Sessions: gone at once (the other person's stays).
    assert _sessions_of(alice) == []
    assert len(_sessions_of(requester)) == 1
    assert browser.get(reverse("access_reviews:reviews")).status_code == 302
    # Tokens: revoked, and refused.
    assert api.get(reverse("api-tokens")).status_code == 401
    assert alice.api_tokens.get().revoked_reason == "left the company"
    # Grants: revoked by policy with the reason, by the SCIM account.
    for grant in AccessGrant.objects.filter(pk__in=[g.pk for g in grants]):
        assert grant.revoked_at is not None and grant.revoked_reason == "left the company"
        assert grant.revoked_by == idp
        assert grant.history.latest().history_user == idp
    # One history row and one audit event for the deactivation itself, naming the SCIM account.
    latest = alice.history.latest()
    assert latest.history_user == idp and latest.is_active is False
    deactivated = AuditEvent.objects.get(action="scim.user_deactivated")
    assert deactivated.actor == idp and deactivated.details["sessions_ended"] == 2
    assert deactivated.details["tokens_revoked"] == 1
    assert sorted(deactivated.details["grants_revoked"]) == sorted(g.pk for g in grants)
    assert audit_actions(idp).count("access_grant.revoked") == 2
    assert audit_actions(idp).count("api_token.revoked") == 1

    # The access review shows why: on the campaign's items and on the grants page.
    reviewer = Client()
    reviewer.force_login(access_admin)
    page = reviewer.get(reverse("access_reviews:campaign", args=[campaign.pk]), {"holder": "alice"}).content.decode()
    assert page.count("Revoked 3 Dec 2026: left the company") == 2
    grants_page = reviewer.get(reverse("access_reviews:grants"), {"status": "ended"}).content.decode()
    assert "left the company" in grants_page


def test_a_session_whose_key_changed_after_sign_in_still_ends(provisioned, scim):
    """A session key is cycled at sign-in and at a password change: the session is still found."""
    alice, _ = provisioned
    browser = Client()
    browser.force_login(alice)
    session = browser.session
    session.cycle_key()
    session.save()
    browser.cookies["sessionid"] = session.session_key
    assert browser.get(reverse("accounts:profile")).status_code == 200
    assert _sessions_of(alice) == [session.session_key]

    assert scim.delete(f"/scim/v2/Users/{alice.pk}").status_code == 204

    assert _sessions_of(alice) == []
    assert AuditEvent.objects.get(action="scim.user_deactivated").details["sessions_ended"] == 1


def test_deactivating_twice_changes_nothing_the_second_time(provisioned, idp, scim):
    alice, _ = provisioned
    assert scim.delete(f"/scim/v2/Users/{alice.pk}").status_code == 204
    rows, events = alice.history.count(), AuditEvent.objects.count()
    assert scim.delete(f"/scim/v2/Users/{alice.pk}").status_code == 204
    assert (alice.history.count(), AuditEvent.objects.count()) == (rows, events)


def test_a_deactivated_person_can_be_reactivated_without_their_grants(provisioned, scim, prod_grant):
    alice, _ = provisioned
    grant = prod_grant(alice)
    scim.patch(f"/scim/v2/Users/{alice.pk}", {"op": "replace", "value": {"active": "False"}})
    response = scim.patch(f"/scim/v2/Users/{alice.pk}", {"op": "replace", "value": {"active": "True"}})
    assert response.json()["active"] is True
    alice.refresh_from_db()
    grant.refresh_from_db()
    assert alice.is_active and grant.revoked_reason == "left the company"


def test_patch_and_put_change_names_and_emails_with_history_and_one_event_each(provisioned, idp, scim):
    alice, _ = provisioned
    events = AuditEvent.objects.filter(action="scim.user_updated")
    response = scim.patch(f"/scim/v2/Users/{alice.pk}",
                          {"op": "replace", "path": "name.familyName", "value": "Smith"},
                          {"op": "replace", "path": 'emails[type eq "work"].value', "value": "alice.smith@example.com"})
    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    assert (alice.last_name, alice.email) == ("Smith", "alice.smith@example.com")
    assert events.count() == 1 and alice.history.latest().history_user == idp
    assert set(events.get().details["changed"]) == {"last_name", "email"}

    put = scim.put(f"/scim/v2/Users/{alice.pk}", user_body("alice", name={"givenName": "Ali"}, emails=[]))
    assert put.status_code == 200, put.content
    alice.refresh_from_db()
    # PUT replaces: what it leaves out is blanked.
    assert (alice.first_name, alice.last_name, alice.email) == ("Ali", "", "")
    assert events.count() == 2


def test_group_members_are_removed_and_replaced_through_the_accounts_services(provisioned, idp, scim, requester):
    alice, team = provisioned
    bob = scim.post("/scim/v2/Users", user_body("bob")).json()["id"]
    replaced = scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "replace", "path": "members",
                                                          "value": [{"value": bob}]})
    assert [m["value"] for m in replaced.json()["members"]] == [bob]
    removed = scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "remove", "path": f'members[value eq "{bob}"]'})
    assert removed.status_code == 200 and removed.json()["members"] == []
    renamed = scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "replace", "path": "displayName", "value": "Platform Eng"})
    assert renamed.json()["displayName"] == "Platform Eng"
    actions = audit_actions(idp)
    assert actions.count("team.member_added") == 2 and actions.count("team.member_removed") == 2
    assert actions[-1] == "scim.group_renamed"
    # Deleting the group empties the team; the team itself stays (the trail names it).
    scim.patch(f"/scim/v2/Groups/{team.pk}", {"op": "add", "path": "members", "value": [{"value": str(alice.pk)}]})
    assert scim.delete(f"/scim/v2/Groups/{team.pk}").status_code == 204
    assert Team.objects.filter(pk=team.pk).exists() and not team.memberships.exists()


def test_replacing_a_groups_members_leaves_its_service_accounts_alone(scim, team, service_account, requester):
    TeamMembership.objects.create(team=team, user=service_account)
    response = scim.put(f"/scim/v2/Groups/{team.pk}", {"displayName": "Payments", "members": []})
    assert response.status_code == 200 and response.json()["members"] == []
    assert set(team.memberships.values_list("user__username", flat=True)) == {"ci-bot"}
