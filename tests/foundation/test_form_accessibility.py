"""Forms render accessibly through the shared field include (templates/includes/field.html):
every aria-describedby names an element that exists, no label points at nothing, and a group
of checkboxes is a fieldset named by its legend (issue #16)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.described: list[str] = []
        self.empty_labels = 0
        self.legends = 0
        self.fieldset_depth = 0
        self.checkboxes_outside_fieldset: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("aria-describedby"):
            self.described.extend(a["aria-describedby"].split())
        if tag == "label" and "for" in a and not a["for"]:
            self.empty_labels += 1
        if tag == "fieldset":
            self.fieldset_depth += 1
        if tag == "legend":
            self.legends += 1
        if tag == "input" and a.get("type") == "checkbox" and self.fieldset_depth == 0:
            self.checkboxes_outside_fieldset.append(a.get("name", ""))

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self.fieldset_depth -= 1


def _scan(html: str) -> _Scan:
    scan = _Scan()
    scan.feed(html)
    return scan


def _assert_accessible(html: str) -> _Scan:
    scan = _scan(html)
    assert scan.empty_labels == 0, 'a <label for=""> names no control'
    missing = [i for i in scan.described if i not in scan.ids]
    assert missing == [], f"aria-describedby points at missing ids: {missing}"
    return scan


def test_the_token_form_groups_its_scopes_in_a_fieldset_with_help_and_errors(client, requester):
    client.force_login(requester)
    scan = _assert_accessible(client.get("/account/").content.decode())
    assert scan.legends >= 1 and scan.checkboxes_outside_fieldset == []
    assert scan.described  # the help texts are referenced, and exist
    # With errors the inputs also point at their error lists, which must exist too.
    response = client.post("/account/", {"name": "", "expires_in_days": "not a number"})
    scan = _assert_accessible(response.content.decode())
    assert any(i.endswith("_error") for i in scan.described)


def test_the_change_and_incident_forms_describe_only_what_exists(client, requester, service, environments):
    client.force_login(requester)
    for url in ("/changes/new/", "/incidents/new/"):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_accessible(response.content.decode())
        # Refused with errors shown: the descriptions the inputs point at still exist.
        response = client.post(url, {})
        assert response.status_code in (200, 400), url
        _assert_accessible(response.content.decode())


def test_the_schedule_forms_describe_only_what_exists(client, release_manager):
    client.force_login(release_manager)
    for url in ("/changes/schedule/", "/changes/delegations/", "/changes/cab/"):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_accessible(response.content.decode())
