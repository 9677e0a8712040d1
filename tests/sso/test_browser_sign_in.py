"""Single sign-on end to end in Chromium: "Sign in with <provider>" on the portal's sign-in page,
the provider's own sign-in page, back to the portal's home with the roles the group mapping
gives; and at the next sign-in, after the provider took a group away, without its role."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from apps.accounts.models import User
from apps.sso.models import OidcIdentity
from apps.sso.services import group_mapping_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in_with_the_provider(page, provider, subject: str) -> None:
    page.goto("/account/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    # The provider's page, on the provider's own address.
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    page.fill("#login", subject)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/" and not url.startswith(provider.issuer))
    page.wait_for_load_state("domcontentloaded")


def test_signing_in_with_the_provider_gives_the_mapped_roles_and_a_removed_group_takes_its_role(
        page, live_server, sso_on_for_browser, roles_ready, superuser):
    provider = sso_on_for_browser
    group_mapping_add(group="rp-approvers", role="approver", actor=superuser)
    group_mapping_add(group="rp-cab", role="cab_member", actor=superuser)
    provider.set_account("sub-ana-1", email="ana@example.com", preferred_username="ana", given_name="Ana",
                         groups=["rp-approvers", "rp-cab", "everyone"])

    _sign_in_with_the_provider(page, provider, "sub-ana-1")

    assert page.locator("h1").inner_text() == "Good to see you, Ana"
    assert "Roles: CAB member, approver" in page.locator(".page-head").inner_text()
    assert page.locator("nav.mainnav").get_by_role("link", name="Waiting for me").is_visible()
    ana = User.objects.get(oidc_identities__issuer=provider.issuer, oidc_identities__subject="sub-ana-1")
    assert ana.role_names() == {"approver", "cab_member"}

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/account/login/**")
    # The provider's administrators take Ana out of the CAB group; she signs in again the next day
    # (a fresh browser session at the provider too, so she signs in on its page again).
    provider.set_account("sub-ana-1", email="ana@example.com", preferred_username="ana", given_name="Ana",
                         groups=["rp-approvers", "everyone"])
    page.context.clear_cookies()

    _sign_in_with_the_provider(page, provider, "sub-ana-1")

    assert page.locator("h1").inner_text() == "Good to see you, Ana"
    roles = page.locator(".page-head").inner_text()
    assert "Roles: approver" in roles and "CAB member" not in roles
    ana = User.objects.get(pk=ana.pk)
    assert ana.role_names() == {"approver"}
    assert OidcIdentity.objects.get(user=ana).groups == ["everyone", "rp-approvers"]
    assert User.objects.filter(username__startswith="ana").count() == 1
