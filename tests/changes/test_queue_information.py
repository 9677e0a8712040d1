"""Request more information: a question to the requester is not a decision; the change waits for
the answer (out of the queue, approval refused), history and audit record both, the answer puts
it back."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.changes.information import information_request_answer, information_request_ask
from apps.changes.models import Approval, InformationRequest
from apps.changes.selectors import cab_queue_for
from apps.changes.services import approval_record
from releaseportal.errors import PortalError


@pytest.fixture
def in_review(make_change, simple_type, requester):
    requester.email = "rita@example.com"
    requester.save()
    return make_change(simple_type, submit=True, title="Rotate keys")


def test_asking_takes_the_change_out_of_the_queue_until_the_requester_answers(
        in_review, approver, requester, django_capture_on_commit_callbacks):
    assert [c.number for c in cab_queue_for(approver)[0]] == [in_review.number]
    with django_capture_on_commit_callbacks(execute=True):
        item = information_request_ask(change=in_review, actor=approver, question="Which key size?")
    assert cab_queue_for(approver)[1]["total"] == 0
    assert not Approval.objects.exists()  # not a decision
    assert [m.to for m in mail.outbox] == [["rita@example.com"]] and "Which key size?" in mail.outbox[0].body
    with pytest.raises(PortalError) as refused:
        approval_record(change=in_review, approver=approver, decision="approve")
    assert refused.value.code == "information_requested"
    information_request_answer(change=in_review, actor=requester, answer="4096 bits.")
    assert [c.number for c in cab_queue_for(approver)[0]] == [in_review.number]
    item.refresh_from_db()
    assert (item.answer, item.answered_by) == ("4096 bits.", requester)


def test_each_act_writes_its_audit_event_and_history_row_with_the_actor(in_review, approver, requester):
    information_request_ask(change=in_review, actor=approver, question="Which key size?")
    information_request_answer(change=in_review, actor=requester, answer="4096 bits.")
    actions = list(AuditEvent.objects.filter(action__startswith="change.information_").order_by("pk")
                   .values_list("action", flat=True))
    assert actions == ["change.information_requested", "change.information_provided"]
    item = InformationRequest.objects.get()
    assert [h.history_user for h in item.history.order_by("history_date")] == [approver, requester]


def test_only_someone_who_may_decide_asks_and_only_the_changes_people_answer(in_review, approver, requester,
                                                                          person):
    with pytest.raises(PortalError) as own:
        information_request_ask(change=in_review, actor=requester, question="?")
    assert own.value.code == "self_approval_forbidden"
    information_request_ask(change=in_review, actor=approver, question="Which key size?")
    with pytest.raises(PortalError) as second:
        information_request_ask(change=in_review, actor=person("hedy"), question="And?")
    assert second.value.code == "information_requested"
    with pytest.raises(PortalError) as stranger:
        information_request_answer(change=in_review, actor=approver, answer="I answer myself")
    assert stranger.value.code == "permission_denied"
    with pytest.raises(PortalError) as blank:
        information_request_answer(change=in_review, actor=requester, answer="   ")
    assert blank.value.fields == {"answer": ["This field is required."]}
    assert InformationRequest.objects.get().answered_at is None


def test_the_change_page_shows_the_question_and_the_answer_form_to_the_requester(login, in_review, approver,
                                                                                requester):
    client = login(approver)
    body = client.get(reverse("changes:detail", args=[in_review.number])).content.decode()
    assert "Request more information" in body
    response = client.post(reverse("changes:ask", args=[in_review.number]), {"question": "Which key size?"})
    assert response.status_code == 302
    queue = client.get(reverse("changes:queue"))
    assert [r["reason"] for r in queue.context["blocked"]["rows"]] == ["information_requested"]
    body = login(requester).get(reverse("changes:detail", args=[in_review.number])).content.decode()
    assert "Which key size?" in body and 'name="answer"' in body and "waiting for the answer" in body
    response = login(requester).post(reverse("changes:answer", args=[in_review.number]), {"answer": "4096."})
    assert response.status_code == 302
    assert InformationRequest.objects.get().answer == "4096."


def test_a_blank_question_is_a_400_naming_the_field_and_writes_nothing(login, in_review, approver):
    response = login(approver).post(reverse("changes:ask", args=[in_review.number]), {"question": " "})
    assert response.status_code == 400 and "question" in response.content.decode()
    assert not InformationRequest.objects.exists()


def test_ask_and_answer_refuse_outsiders_and_send_anonymous_to_sign_in(client, login, in_review, outsider):
    for name, data in (("changes:ask", {"question": "?"}), ("changes:answer", {"answer": "!"})):
        url = reverse(name, args=[in_review.number])
        anonymous = client.post(url, data)
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
        assert login(outsider).post(url, data).status_code in (403, 404)
        client.logout()
    assert not InformationRequest.objects.exists()
