"""Signing in with OpenID Connect against a real provider (tests/sso/conftest.py): the
authorization-code flow end to end, accounts found by subject, groups mapped to roles and teams on
every sign-in, and tokens from another issuer refused."""

from __future__ import annotations

import pytest

from apps.accounts.models import TeamMembership, User
from apps.audit.models import AuditEvent
from apps.sso.models import OidcIdentity
from apps.sso.services import SYNC_ACTOR_LABEL, group_mapping_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapping(roles_ready, team, superuser):
    group_mapping_add(group="rp-approvers", role="approver", actor=superuser)
    group_mapping_add(group="rp-cab", role="cab_member", actor=superuser)
    group_mapping_add(group="rp-payments", team=team, actor=superuser)


def _signed_in_user(client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_the_sign_in_page_offers_the_provider(client, sso_on, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = client.get("/account/login/")
    assert b"Sign in with Test IdP" in response.content
    assert b'href="/account/sso/start/"' in response.content


def test_a_first_sign_in_creates_the_account_by_subject_with_the_mapped_roles_and_teams(
        client, sso_on, mapping, team):
    sso_on.set_account("sub-alice-1", email="alice@example.com", preferred_username="alice", given_name="Alice",
                       groups=["rp-approvers", "rp-payments", "everyone"])

    response = sso_on.sign_in(client, "sub-alice-1", next_url="/changes/")

    assert response.status_code == 302 and response["Location"] == "/changes/"
    user = _signed_in_user(client)
    assert user is not None and user.username == "alice" and user.first_name == "Alice"
    assert not user.has_usable_password()
    identity = OidcIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (sso_on.issuer, "sub-alice-1")
    assert identity.groups == ["everyone", "rp-approvers", "rp-payments"]
    assert user.role_names() == {"approver"}
    assert TeamMembership.objects.filter(user=user, team=team).exists()
    grant = AuditEvent.objects.get(action="user.role_granted", object_id=str(user.pk))
    assert (grant.actor_label, grant.details["role"]) == (SYNC_ACTOR_LABEL, "approver")
    assert AuditEvent.objects.filter(action="team.member_added", actor_label=SYNC_ACTOR_LABEL).count() == 1
    history = identity.history.get()
    assert (history.history_actor_label, history.synced_roles) == (SYNC_ACTOR_LABEL, ["approver"])
    assert client.get("/").status_code == 200


def test_a_removed_group_removes_the_role_and_team_at_the_next_sign_in(client, sso_on, mapping, team):
    sso_on.set_account("sub-bob-1", email="bob@example.com", preferred_username="bob",
                       groups=["rp-approvers", "rp-cab", "rp-payments"])
    sso_on.sign_in(client, "sub-bob-1")
    bob = _signed_in_user(client)
    assert bob.role_names() == {"approver", "cab_member"}
    # A role nobody mapped, given by hand, is not the sync's to take.
    from apps.accounts.services import user_role_grant

    user_role_grant(user=bob, role="auditor", actor=bob)
    client.post("/account/logout/")

    sso_on.set_account("sub-bob-1", email="bob@example.com", preferred_username="bob", groups=["rp-approvers"])
    response = sso_on.sign_in(client, "sub-bob-1")

    assert response.status_code == 302
    bob = User.objects.get(pk=bob.pk)
    assert bob.role_names() == {"approver", "auditor"}
    assert not TeamMembership.objects.filter(user=bob, team=team).exists()
    revoked = AuditEvent.objects.get(action="user.role_revoked", object_id=str(bob.pk))
    assert (revoked.actor_label, revoked.actor_type, revoked.details["role"]) == (SYNC_ACTOR_LABEL, "system",
                                                                                  "cab_member")
    assert AuditEvent.objects.filter(action="team.member_removed", actor_label=SYNC_ACTOR_LABEL).count() == 1
    latest = OidcIdentity.objects.get(user=bob).history.order_by("-history_id").first()
    assert latest.synced_roles == ["approver"] and latest.history_actor_label == SYNC_ACTOR_LABEL


def test_a_sign_in_costs_a_fixed_number_of_queries_whatever_the_mapping_size(
        client, sso_on, mapping, superuser, django_assert_max_num_queries):
    for n in range(30):
        group_mapping_add(group=f"rp-extra-{n}", role="executive", actor=superuser)
    sso_on.set_account("sub-erin-1", email="erin@example.com", preferred_username="erin",
                       groups=["rp-approvers", "rp-payments"])
    sso_on.sign_in(client, "sub-erin-1")
    client.post("/account/logout/")

    response = sso_on.sign_in(client, "sub-erin-1", around_callback=django_assert_max_num_queries(32))

    assert response.status_code == 302 and _signed_in_user(client).username == "erin"


def test_the_subject_not_the_email_finds_the_account(client, sso_on, roles_ready):
    local = User.objects.create_user("carol", email="carol@example.com", password="demo-pass-1")
    sso_on.set_account("sub-carol-1", email="carol@example.com", preferred_username="carol", groups=[])
    sso_on.sign_in(client, "sub-carol-1")
    first = _signed_in_user(client)
    assert first.pk != local.pk and first.username == "carol-2"
    client.post("/account/logout/")

    sso_on.set_account("sub-carol-1", email="carol.new@example.com", preferred_username="carol", groups=[])
    sso_on.sign_in(client, "sub-carol-1")

    again = _signed_in_user(client)
    assert again.pk == first.pk and again.email == "carol.new@example.com"


def test_a_token_from_an_unknown_issuer_is_refused(client, settings, sso_on, mapping):
    # A provider whose discovery document names <issuer>/mixup but whose endpoints are the real
    # provider's: the ID token is validly signed, but its `iss` is not the configured issuer.
    settings.OIDC_ISSUER = f"{sso_on.issuer}/mixup"
    sso_on.set_account("sub-mallory-1", email="m@example.com", preferred_username="mallory", groups=["rp-approvers"])

    response = sso_on.sign_in(client, "sub-mallory-1")

    assert response.status_code == 302 and response["Location"] == "/account/login/"
    assert "_auth_user_id" not in client.session
    assert not OidcIdentity.objects.exists() and not User.objects.filter(username="mallory").exists()
    refused = AuditEvent.objects.get(action="sso.sign_in_refused")
    assert refused.details["token_issuer"] == sso_on.issuer
    page = client.get("/account/login/")
    assert b"did not succeed" in page.content


def test_a_discovery_document_naming_another_issuer_is_not_used(client, settings, sso_on):
    settings.OIDC_ISSUER = sso_on.issuer.replace("127.0.0.1", "localhost")

    response = client.get("/account/sso/start/")

    assert response.status_code == 302 and response["Location"] == "/account/login/"
    assert "oidc_states" not in client.session


def test_a_callback_with_a_state_never_issued_is_a_400(client, sso_on):
    client.get("/account/sso/start/")
    response = client.get("/account/sso/callback/?code=forged&state=never-issued")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_an_account_deactivated_after_signing_in_loses_its_session(client, sso_on, roles_ready):
    sso_on.set_account("sub-dan-1", email="dan@example.com", preferred_username="dan", groups=[])
    sso_on.sign_in(client, "sub-dan-1")
    dan = _signed_in_user(client)
    assert client.get("/account/").status_code == 200
    User.objects.filter(pk=dan.pk).update(is_active=False)
    assert client.get("/account/").status_code == 302


def test_with_sso_off_nothing_changes(client, settings, outsider):
    settings.OIDC_ISSUER = ""
    assert b"Sign in with" not in client.get("/account/login/").content
    assert client.get("/account/sso/start/").status_code == 404
    assert client.get("/account/sso/callback/?code=x&state=y").status_code == 404
    client.force_login(outsider)
    assert client.get("/account/sso/start/").status_code == 404
