"""The generated guarantee: every route that can change state is in the bypass table.

Generated from the URLconf and the OpenAPI schema (tests/governance/walker.py), so a new route
or API operation fails here until tests/governance/routes.py says who may use it."""

from __future__ import annotations

import inspect
import re

import pytest

from tests.governance import routes as table
from tests.governance.walker import (
    all_routes,
    route_for_operation,
    state_changing_operations,
    state_changing_routes,
)

PORTAL_ROUTES = [r for r in state_changing_routes() if not r.is_admin]
# Code in a function view that handles a submitted form or body.
HANDLES_WRITES = re.compile(r"request\.(POST|FILES|body)\b|request\.method\s*==\s*['\"](POST|PUT|PATCH|DELETE)")


def classification_problem(route) -> str | None:
    if table.entry_for(route) is not None:
        return None
    return (f"unclassified state-changing route: {route.name} ({route.pattern}, {route.view}, accepts "
            f"{', '.join(sorted(route.unsafe_methods))}). Add it to tests/governance/routes.py: who may change "
            "state through it, and how to build its URL and body.")


@pytest.mark.parametrize("route", PORTAL_ROUTES, ids=lambda r: r.name)
def test_every_state_changing_route_is_classified(route):
    problem = classification_problem(route)
    assert problem is None, problem


def test_a_new_route_without_an_entry_is_reported_as_unclassified():
    """The guarantee itself: a view nobody classified, found by the walker, fails by name."""
    from django.http import HttpResponse
    from django.urls import path

    from tests.governance.walker import Route, view_methods

    def new_form_view(request):  # answers GET and POST, like most function views here
        return HttpResponse("")

    pattern = path("things/<int:pk>/frobnicate/", new_form_view, name="frobnicate")
    route = Route(name="things:frobnicate", pattern=str(pattern.pattern), view="tests.new_form_view",
                  methods=view_methods(pattern.callback), is_api=False, is_admin=False)
    assert route.changes_state
    assert classification_problem(route).startswith("unclassified state-changing route: things:frobnicate")


def test_the_walker_reads_the_methods_a_view_accepts():
    from django.views.decorators.http import require_GET, require_POST

    from apps.changes.api import ChangeDetailApi
    from tests.governance.walker import view_methods

    def page(request):
        return None

    assert view_methods(require_GET(page)) == {"GET"}
    assert view_methods(require_POST(page)) == {"POST"}
    assert view_methods(page) >= {"GET", "POST"}
    assert view_methods(ChangeDetailApi.as_view()) == {"GET", "PATCH"}


@pytest.mark.parametrize("route", PORTAL_ROUTES, ids=lambda r: r.name)
def test_every_write_method_of_an_api_route_has_a_scenario(route):
    if not route.is_api:
        return  # an HTML view is exercised with POST, the only write a form sends
    entries = table.writes_for(route)
    declared = {w.method for w in entries}
    missing = sorted(route.unsafe_methods - declared)
    assert not missing, f"unclassified state-changing route: {route.name} {', '.join(missing)} has no Write scenario"


def _view_source(route) -> str:
    from django.urls import get_resolver

    for pattern in _patterns(get_resolver()):
        if pattern[0] == route.name:
            callback = inspect.unwrap(pattern[1])
            try:
                return inspect.getsource(callback)
            except (OSError, TypeError):
                return ""
    return ""


def _patterns(resolver, namespace=None):
    from django.urls import URLPattern, URLResolver

    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _patterns(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield (f"{namespace}:{entry.name}" if namespace else entry.name), entry.callback


READ_ONLY = [r for r in all_routes() if isinstance(table.entry_for(r), table.ReadOnly)]


@pytest.mark.parametrize("route", READ_ONLY, ids=lambda r: r.name)
def test_a_route_declared_read_only_has_no_write_handler(route):
    if route.is_api:
        assert not route.unsafe_methods, (
            f"{route.name} is declared read-only but its view handles {sorted(route.unsafe_methods)}")
        return
    source = _view_source(route)
    found = HANDLES_WRITES.search(source)
    assert found is None, (
        f"{route.name} is declared read-only but {route.view} reads a submitted body ({found.group(0)}): "
        "classify it as a Write in tests/governance/routes.py")


def test_the_write_detector_sees_a_view_that_handles_a_form():
    """Otherwise the read-only check above could never fail."""
    route = next(r for r in all_routes() if r.name == "changes:schedule")
    assert HANDLES_WRITES.search(_view_source(route))


def test_the_table_names_only_routes_that_exist():
    names = {r.name for r in all_routes()}
    stale = sorted(set(table.ROUTES) - names)
    assert not stale, f"tests/governance/routes.py names routes the URLconf no longer has: {stale}"


@pytest.mark.parametrize("operation", state_changing_operations(), ids=lambda op: f"{op.method} {op.path}")
def test_every_state_changing_api_operation_is_in_the_table(operation):
    route = route_for_operation(operation)
    assert route is not None, f"the schema documents {operation.method} {operation.path} but no route serves it"
    methods = {w.method for w in table.writes_for(route)}
    assert operation.method in methods, (
        f"unclassified state-changing route: {route.name} ({operation.method} {operation.path}, "
        f"operation {operation.operation_id})")


def test_the_walker_sees_the_routes_the_issue_names():
    """A walker that silently found nothing would make every generated test vacuous."""
    names = {r.name for r in state_changing_routes()}
    for expected in ("changes:move", "changes:decide", "api-change-transition", "api-gate-check", "api-deployments",
                     "access_reviews:item-decide", "changes:delegations", "changes:edit"):
        assert expected in names
    assert any(r.is_admin for r in state_changing_routes())
    assert len(state_changing_operations()) >= 20
