"""GitHub pull_request webhooks: a pull request is kept, linked to the change it names and, through
its commits, to artifacts and deployments; signatures verified, bad payloads refused with 400,
unused actions acknowledged and ignored, late deliveries harmless.

Payloads are our own, shaped like GitHub's documented pull_request event; the real examples in
../shared/fixtures/github/ (when present) are checked too."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
from django.test import TestCase

from apps.audit.models import AuditEvent
from apps.delivery.models import (
    PullRequest,
    WebhookDelivery,
    WebhookIntegration,
)

from .conftest import shared_fixture

pytestmark = pytest.mark.django_db

SECRET = "pr-hook-secret"
HEAD = "1" * 40
MERGE = "2" * 40


@pytest.fixture
def hooked(service, environments):
    service.repository_url = "https://github.com/acme/payments"
    service.save()
    WebhookIntegration.objects.create(provider="github", name="GitHub", secret=SECRET)
    return service


def pr_payload(action="opened", *, title="Faster refunds", number=7, pr_id=90007, state="open", merged=False,
               head_ref="feature/refunds", body="", updated_at="2026-11-20T10:00:00Z", repo="acme/payments"):
    return {
        "action": action, "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{repo}/pulls/{number}", "id": pr_id,
            "html_url": f"https://github.com/{repo}/pull/{number}", "number": number, "state": state,
            "locked": False, "title": title, "user": {"login": "alice-gh", "id": 1}, "body": body,
            "created_at": "2026-11-20T09:00:00Z", "updated_at": updated_at,
            "closed_at": updated_at if state == "closed" else None,
            "merged_at": updated_at if merged else None,
            # GitHub fills this with a test merge while the pull request is open.
            "merge_commit_sha": MERGE, "draft": False, "merged": merged,
            "head": {"label": "acme:" + head_ref, "ref": head_ref, "sha": HEAD},
            "base": {"label": "acme:main", "ref": "main", "sha": "3" * 40},
        },
        "repository": {"id": 5, "name": repo.split("/")[1], "full_name": repo,
                       "html_url": f"https://github.com/{repo}"},
        "sender": {"login": "alice-gh", "id": 1},
    }


def send(client, payload, *, delivery="pr-1", secret=SECRET, event="pull_request"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    with TestCase.captureOnCommitCallbacks(execute=True):  # the Celery task runs on commit
        return client.post("/hooks/github/", body, content_type="application/json", HTTP_X_GITHUB_EVENT=event,
                           HTTP_X_GITHUB_DELIVERY=delivery, HTTP_X_HUB_SIGNATURE_256=signature)


def test_an_opened_pull_request_is_kept_and_linked_to_the_change_it_names(client, hooked, make_change):
    change = make_change(state="approved")
    response = send(client, pr_payload(title=f"Faster refunds ({change.number})"))
    assert response.status_code == 202, response.content
    pr = PullRequest.objects.get()
    assert (pr.repository, pr.number, pr.state, pr.change, pr.service) == ("acme/payments", 7, "open", change, hooked)
    assert pr.head_sha == HEAD and pr.author == "alice-gh" and pr.url == "https://github.com/acme/payments/pull/7"
    assert pr.merge_commit_sha == ""  # GitHub's test merge of an open pull request is no commit of ours
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "processed" and change.number in delivery.result
    # Invariant 1: history with the actor, and one audit event.
    history = pr.history.get()
    assert history.history_actor_kind == "task"
    event = AuditEvent.objects.get(action="delivery.pull_request_recorded")
    assert event.object_id == str(pr.pk) and event.details["change"] == change.number
    assert event.details["delivery"] == "pr-1"


def test_a_change_named_only_in_the_branch_or_description_is_linked(client, hooked, make_change):
    change = make_change(state="approved")
    send(client, pr_payload(head_ref=f"chg-{change.pk}-refunds"), delivery="a")
    assert PullRequest.objects.get().change == change
    other = make_change(state="approved")
    send(client, pr_payload(pr_id=1, number=8, body=f"Implements {other.number.lower()}."), delivery="b")
    assert PullRequest.objects.get(number=8).change == other


def test_a_change_of_another_service_is_not_linked(client, hooked, make_change, team):
    from tests.factories import ServiceFactory

    foreign = make_change(state="approved", svc=ServiceFactory(slug="ledger", owner_team=team))
    send(client, pr_payload(title=f"Sneak into {foreign.number}"))
    pr = PullRequest.objects.get()
    assert pr.change is None and pr.change_ref == foreign.number
    assert "not linked" in WebhookDelivery.objects.get().result


def test_merging_records_the_merge_commit(client, hooked, make_change):
    change = make_change(state="approved")
    send(client, pr_payload(title=change.number), delivery="open")
    send(client, pr_payload("closed", title=change.number, state="closed", merged=True,
                            updated_at="2026-11-20T11:00:00Z"), delivery="close")
    pr = PullRequest.objects.get()
    assert pr.state == "merged" and pr.merge_commit_sha == MERGE and pr.merged_at is not None
    assert pr.history.count() == 2
    updated = AuditEvent.objects.get(action="delivery.pull_request_updated")
    assert updated.details["state"] == "merged" and updated.details["merge_commit_sha"] == MERGE


def test_closing_without_merging_is_closed_not_merged(client, hooked):
    send(client, pr_payload(), delivery="open")
    send(client, pr_payload("closed", state="closed", updated_at="2026-11-20T11:00:00Z"), delivery="close")
    pr = PullRequest.objects.get()
    assert pr.state == "closed" and pr.merge_commit_sha == "" and pr.merged_at is None


def test_a_late_older_delivery_changes_nothing(client, hooked):
    send(client, pr_payload("closed", state="closed", merged=True, updated_at="2026-11-20T12:00:00Z"), delivery="new")
    send(client, pr_payload("synchronize", updated_at="2026-11-20T10:00:00Z"), delivery="old")
    assert PullRequest.objects.get().state == "merged"
    late = WebhookDelivery.objects.get(delivery_id="old")
    assert late.status == "ignored" and "newer" in late.result
    assert AuditEvent.objects.filter(action__startswith="delivery.pull_request").count() == 1


def test_an_edit_of_the_description_alone_writes_nothing_new(client, hooked):
    send(client, pr_payload(), delivery="a")
    send(client, pr_payload("edited", body="more words", updated_at="2026-11-20T10:05:00Z"), delivery="b")
    assert PullRequest.objects.get().history.count() == 1
    assert AuditEvent.objects.filter(action__startswith="delivery.pull_request").count() == 1


def test_a_retitled_pull_request_follows_its_new_change(client, hooked, make_change):
    first, second = make_change(state="approved"), make_change(state="approved")
    send(client, pr_payload(title=first.number), delivery="a")
    send(client, pr_payload("edited", title=second.number, updated_at="2026-11-20T10:05:00Z"), delivery="b")
    assert PullRequest.objects.get().change == second


@pytest.mark.parametrize("action", ["labeled", "assigned", "review_requested", "locked", "auto_merge_enabled"])
def test_actions_we_do_not_use_are_acknowledged_and_ignored(client, hooked, action):
    response = send(client, pr_payload(action))
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "ignored" and action in delivery.result
    assert not PullRequest.objects.exists()


@pytest.mark.parametrize("damage, field", [
    (lambda p: p.pop("pull_request"), "pull_request"),
    (lambda p: p["pull_request"]["head"].update(sha="not-a-sha"), "pull_request.head.sha"),
    (lambda p: p["pull_request"].update(number="7"), "pull_request.number"),
    (lambda p: p["pull_request"].update(state="weird"), "pull_request.state"),
    (lambda p: p["pull_request"].update(updated_at="yesterday"), "pull_request.updated_at"),
    (lambda p: p.pop("repository"), "repository.full_name"),
    (lambda p: p.pop("action"), "action"),
])
def test_a_bad_payload_is_a_400_naming_the_field_and_stores_nothing(client, hooked, damage, field):
    payload = copy.deepcopy(pr_payload())
    damage(payload)
    response = send(client, payload)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_payload" and field in error["fields"]
    assert not WebhookDelivery.objects.exists() and not PullRequest.objects.exists()


def test_a_bad_signature_is_refused(client, hooked):
    assert send(client, pr_payload(), secret="wrong").status_code == 401
    assert not WebhookDelivery.objects.exists() and not PullRequest.objects.exists()


def test_a_replayed_delivery_is_processed_once(client, hooked):
    assert send(client, pr_payload(), delivery="same").status_code == 202
    replay = send(client, pr_payload("closed", state="closed", updated_at="2026-11-20T11:00:00Z"), delivery="same")
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert PullRequest.objects.get().state == "open"


def test_an_unknown_repository_is_ignored(client, hooked):
    send(client, pr_payload(repo="someone/else"))
    assert WebhookDelivery.objects.get().status == "ignored" and not PullRequest.objects.exists()


def test_the_change_page_shows_the_pull_request_its_build_and_where_it_shipped(
        client, requester, hooked, make_change, ship_to_staging, django_assert_max_num_queries):
    from apps.delivery.change_sections import pull_requests_of

    change = make_change(state="approved")
    send(client, pr_payload("closed", title=change.number, state="closed", merged=True))
    deployment = ship_to_staging(sha=MERGE, version="2.0.0", svc=hooked)
    artifact = deployment.artifact
    for n in range(4):  # more pull requests cost no more queries
        send(client, pr_payload(title=change.number, number=20 + n, pr_id=500 + n), delivery=f"more-{n}")
    with django_assert_max_num_queries(3):
        rows = pull_requests_of(change)
    merged = next(r for r in rows if r["pull"].number == 7)
    assert merged["artifacts"] == [artifact] and merged["deployments"] == [deployment]
    client.force_login(requester)
    page = client.get(f"/changes/{change.number}/").content.decode()
    assert "acme/payments#7" in page and "2.0.0" in page and "Merged" in page


def test_an_outsider_sees_no_pull_request(client, outsider, hooked, make_change):
    change = make_change(state="approved")
    send(client, pr_payload(title=change.number + " secret refunds"))
    client.force_login(outsider)
    response = client.get(f"/changes/{change.number}/")
    assert response.status_code in (403, 404)  # the changes app's own gate: no role, no portal
    assert b"secret refunds" not in response.content


@pytest.mark.parametrize("name, expected", [
    ("github/pull_request.opened.json", "open"),
    ("github/pull_request.closed.json", "closed"),
])
def test_real_github_payloads(client, hooked, name, expected):
    payload = json.loads(shared_fixture(name).read_bytes())
    hooked.repository_url = payload["repository"]["html_url"]
    hooked.save()
    response = send(client, payload)
    assert response.status_code == 202, response.content
    pr = PullRequest.objects.get()
    assert pr.number == payload["number"] and pr.state == expected
    assert pr.head_sha == payload["pull_request"]["head"]["sha"]
