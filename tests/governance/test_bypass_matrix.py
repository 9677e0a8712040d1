"""Generated: for every state-changing route and every persona that must not succeed, the
request is refused and nothing changed (no audit event, the watched rows unmoved).

Cases come from the URLconf (tests/governance/walker.py) crossed with the table
(tests/governance/routes.py) and the personas (tests/governance/conftest.py): a persona is
judged "must not succeed" because the table does not list it, not because a test names it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.messages import constants, get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.forms.models import model_to_dict
from django.shortcuts import resolve_url
from django.urls import reverse
from rest_framework.test import APIClient

from tests.governance import routes as table
from tests.governance.conftest import API_PERSONAS, HTML_PERSONAS
from tests.governance.walker import state_changing_routes

HTML_REFUSED = (403, 404)
API_REFUSED = (401, 403, 404)
SOFT_EXTRA = (200, 302, 400, 409, 422)
REFUSAL_ACTIONS = ("refused", "denied")


def _cases(want_allowed: bool):
    for route in state_changing_routes():
        if route.is_admin:
            continue
        for write in table.writes_for(route):
            personas = API_PERSONAS if route.is_api else HTML_PERSONAS
            if want_allowed:
                # One positive control per scenario: the table's first allowed persona of this surface.
                chosen = [write.control] if write.control else [p for p in personas if p in write.allowed][:1]
            else:
                chosen = [p for p in personas if p not in write.allowed and p not in write.unjudged]
            for persona in chosen:
                yield pytest.param(route, write, persona, id=f"{route.name}[{write.scenario}]-{write.method}-{persona}")


def client_for(world, signed_in, route, persona):
    if route.is_api:
        client = APIClient()
        if persona != "anonymous":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.tokens[persona]}")
        return client
    client = signed_in[persona]
    # The clients live for the module: drop flash messages an earlier test left in the cookie.
    client.cookies.pop(CookieStorage.cookie_name, None)
    return client


def send(world, signed_in, route, write, persona):
    client = client_for(world, signed_in, route, persona)
    url = reverse(route.name, kwargs=write.kwargs(world))
    data = write.data(world)
    method = getattr(client, write.method.lower())
    if route.is_api:
        return method(url, data, format="json")
    return method(url, data)


def snapshot(world, write):
    from apps.audit.models import AuditEvent

    events = AuditEvent.objects.all()
    for word in REFUSAL_ACTIONS:
        events = events.exclude(action__contains=word)
    state = {"audit events": events.count()}
    for watched in write.watch(world):
        if isinstance(watched, type):
            state[f"{watched._meta.label} rows"] = watched._default_manager.count()
        else:
            fresh = type(watched)._default_manager.filter(pk=watched.pk).first()
            state[f"{watched._meta.label} #{watched.pk}"] = model_to_dict(fresh) if fresh else None
    return state


def _flashed(response, levels) -> list[str]:
    request = getattr(response, "wsgi_request", None)
    if request is None:
        return []
    return [m.message for m in get_messages(request) if m.level in levels]


def refusal_problem(route, write, persona, response) -> str | None:
    """Why `response` is not a refusal (None when it is one)."""
    status = response.status_code
    if route.is_api:
        allowed = API_REFUSED + (SOFT_EXTRA[2:] if write.refusal == table.SOFT else ())
        return None if status in allowed else f"answered {status}, not one of {allowed}"
    if persona == "anonymous":
        login = resolve_url(settings.LOGIN_URL)
        if status == 302 and response["Location"].startswith(login):
            return None
        return f"answered {status} {response.get('Location', '')}, not a redirect to {login}"
    if status in HTML_REFUSED:
        return None
    if write.refusal == table.SOFT and status in SOFT_EXTRA:
        succeeded = _flashed(response, {constants.SUCCESS, constants.INFO})
        return f"reported success: {succeeded}" if succeeded else None
    return f"answered {status} {response.get('Location', '')}, not one of {HTML_REFUSED}"


@pytest.mark.parametrize(("route", "write", "persona"), list(_cases(want_allowed=False)))
def test_a_persona_outside_the_table_is_refused_and_nothing_changes(world, signed_in, db, route, write, persona):
    before = snapshot(world, write)
    response = send(world, signed_in, route, write, persona)
    after = snapshot(world, write)
    problem = refusal_problem(route, write, persona, response)
    assert problem is None, f"{persona} got through {route.name} ({write.scenario}): {problem}"
    assert after == before, f"{persona} changed state through {route.name} ({write.scenario})"


@pytest.mark.parametrize(("route", "write", "persona"), list(_cases(want_allowed=True)))
def test_a_persona_in_the_table_gets_through(world, signed_in, db, route, write, persona):
    """The control: the same request by someone allowed succeeds, so the refusals above come
    from who asked, not from a malformed request."""
    before = snapshot(world, write)
    response = send(world, signed_in, route, write, persona)
    after = snapshot(world, write)
    assert response.status_code < 400, f"{persona} was refused {route.name}: {response.status_code}"
    errors = _flashed(response, {constants.ERROR})
    assert not errors, f"{persona} was refused {route.name}: {errors}"
    assert after != before, f"{persona}'s {route.name} ({write.scenario}) changed nothing"
