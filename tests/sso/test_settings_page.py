"""The single sign-on settings page (/sso/group-mapping/): access admins read the group mapping
as it stands, who changed each group last and when, and the mapping's recent changes from the
audit trail. Read-only: the mapping changes by the policy import. Nobody else sees it."""

from __future__ import annotations

import pytest

from apps.sso.policy import apply_import, plan_import
from apps.sso.services import break_glass_flag, group_mapping_add

pytestmark = pytest.mark.django_db

URL = "/sso/group-mapping/"


@pytest.fixture
def mapping(clock, superuser, access_admin, team):
    """root maps rp-approvers on Dec 1; Gina's import on Dec 2 maps rp-cab and rp-payments."""
    clock("2026-12-01 09:00")
    group_mapping_add(group="rp-approvers", role="approver", actor=superuser)
    clock("2026-12-02 10:00")
    apply_import(plan_import("version: 1\ngroup_mappings:\n"
                             "  - group: rp-cab\n    roles: [cab_member, approver]\n"
                             "  - group: rp-payments\n    teams: [payments]\n"), actor=access_admin)
    clock("2026-12-03 09:00")


def _row(html: str, group: str) -> str:
    start = html.index(f'<th scope="row" class="mono">{group}</th>')
    return html[start:html.index("</tr>", start)]


def test_an_access_admin_sees_the_mapping_and_who_changed_it(client, access_admin, mapping):
    client.force_login(access_admin)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    approvers, cab, payments = _row(html, "rp-approvers"), _row(html, "rp-cab"), _row(html, "rp-payments")
    assert ">approver<" in approvers and "root" in approvers and "2026-12-01T09:00" in approvers
    assert ">approver<" in cab and ">cab_member<" in cab and "Gina" in cab and "2026-12-02T10:00" in cab
    assert "Payments" in payments and ">payments<" in payments and "Gina" in payments
    # The trail: the import with its diff, and root's single row.
    changes = html[html.index('id="mapping-changes"'):]
    assert "Policy import" in changes and "+ rp-cab → role cab_member" in changes
    assert "+ rp-approvers → role approver" in changes
    assert changes.index("Policy import") < changes.index("+ rp-approvers → role approver")  # newest first
    # Read-only: no form on the page; editing is the import.
    assert html.count("<form") == 1 and 'action="/account/logout/"' in html  # only the sign-out button
    assert "sso_mapping_import" in html


def test_the_page_says_when_single_sign_on_is_off_and_lists_break_glass_accounts(client, settings, access_admin,
                                                                                  superuser):
    settings.OIDC_ISSUER = ""
    break_glass_flag(user=superuser, reason="database outage runbook", actor=access_admin)
    client.force_login(access_admin)

    html = client.get(URL).content.decode()

    assert "Single sign-on is off" in html and "No group is mapped" in html
    assert "database outage runbook" in html


def test_it_costs_a_fixed_number_of_queries_however_large_the_mapping(client, access_admin, superuser, team,
                                                                      django_assert_max_num_queries):
    for n in range(40):
        group_mapping_add(group=f"rp-group-{n:02d}", role="approver", actor=superuser)
        group_mapping_add(group=f"rp-group-{n:02d}", team=team, actor=superuser)
    client.force_login(access_admin)

    with django_assert_max_num_queries(7):
        response = client.get(URL)

    assert response.status_code == 200 and response.content.decode().count('<th scope="row"') == 40


def test_access_admins_find_it_in_the_navigation_and_others_do_not(client, access_admin, requester, auditor):
    client.force_login(access_admin)
    assert f'href="{URL}"' in client.get("/").content.decode()
    for person in (requester, auditor):
        client.force_login(person)
        assert f'href="{URL}"' not in client.get("/").content.decode()


@pytest.mark.parametrize("persona", ["outsider", "requester", "auditor", "service_account"])
def test_nobody_else_may_see_it(request, client, persona, mapping):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 403
    assert b"rp-approvers" not in response.content


def test_signed_out_people_are_sent_to_sign_in(client, mapping):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")


def test_a_post_changes_nothing(client, access_admin, mapping):
    from apps.sso.models import GroupMapping

    client.force_login(access_admin)
    before = list(GroupMapping.objects.values_list("group", "role", "team"))
    assert client.post(URL, {"group": "rp-evil", "role": "access_admin"}).status_code == 405
    assert list(GroupMapping.objects.values_list("group", "role", "team")) == before
