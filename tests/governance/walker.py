"""Walk everything the portal answers: every pattern of the URLconf and every operation of the
OpenAPI schema, with the HTTP methods each one accepts.

Used at collection time to generate the bypass tests, so it touches no database. A route's
methods are read from the view itself: a DRF or class-based view by the handlers its class
defines, a function view by the `require_http_methods` family of decorators around it. A
function view without such a decorator answers every method, so it counts as accepting POST:
only the classification table in tests/governance/routes.py can say it changes nothing."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ALL = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Token-authenticated surfaces: the REST API and SCIM provisioning (scim/v2/).
API_PREFIXES = ("api/", "scim/")


@dataclass(frozen=True)
class Route:
    name: str          # "namespace:name" as reverse() takes it
    pattern: str       # the full path pattern, e.g. "changes/<str:ref>/move/"
    view: str          # dotted path of the view, for messages
    methods: frozenset[str]
    is_api: bool
    is_admin: bool

    @property
    def unsafe_methods(self) -> frozenset[str]:
        return self.methods & UNSAFE

    @property
    def changes_state(self) -> bool:
        return bool(self.unsafe_methods)


def _closure_value(func, name: str):
    code = getattr(func, "__code__", None)
    if code is None or not func.__closure__:
        return None
    for var, cell in zip(code.co_freevars, func.__closure__, strict=False):
        if var == name:
            return cell.cell_contents
    return None


def view_methods(callback) -> frozenset[str]:
    """The methods a view callback accepts (HEAD and OPTIONS left out)."""
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        names = getattr(cls, "http_method_names", [])
        return frozenset(m.upper() for m in names if m not in ("head", "options", "trace") and hasattr(cls, m))
    func = callback
    seen = set()
    while func is not None and id(func) not in seen:
        seen.add(id(func))
        allowed = _closure_value(func, "request_method_list")
        if allowed is not None:
            return frozenset(m.upper() for m in allowed) - {"HEAD", "OPTIONS"}
        if isinstance(func, functools.partial):
            func = func.func
            continue
        func = getattr(func, "__wrapped__", None)
    return _ALL


def _view_label(callback) -> str:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    target = cls or callback
    return f"{target.__module__}.{getattr(target, '__qualname__', repr(target))}"


def _walk(resolver: URLResolver, prefix: str, namespace: str | None):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = entry.name or f"<unnamed {prefix}{entry.pattern}>"
            if namespace and entry.name:
                name = f"{namespace}:{entry.name}"
            pattern = prefix + str(entry.pattern)
            yield Route(name=name, pattern=pattern, view=_view_label(entry.callback),
                        methods=view_methods(entry.callback), is_api=pattern.lstrip("^").startswith(API_PREFIXES),
                        is_admin=(namespace or "").split(":")[0] == "admin")


@functools.cache
def all_routes() -> tuple[Route, ...]:
    routes = tuple(_walk(get_resolver(), "", None))
    names = [r.name for r in routes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AssertionError(f"route names must be unique for the bypass table; duplicated: {duplicates}")
    return routes


def state_changing_routes() -> tuple[Route, ...]:
    return tuple(r for r in all_routes() if r.changes_state)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str          # as the schema writes it: /api/v1/changes/{ref}/transition/
    operation_id: str


@functools.cache
def schema_operations() -> tuple[Operation, ...]:
    """Every operation the generated OpenAPI schema documents."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method.upper() in _ALL:
                ops.append(Operation(method.upper(), path, operation.get("operationId", "")))
    return tuple(ops)


def state_changing_operations() -> tuple[Operation, ...]:
    return tuple(op for op in schema_operations() if op.method in UNSAFE)


def route_for_operation(op: Operation) -> Route | None:
    """The URLconf route that serves a schema operation (path parameters matched by position)."""
    import re

    def shape(text: str) -> str:
        text = re.sub(r"\{[^}]+\}", "{}", text)
        return re.sub(r"<[^>]+>", "{}", text)

    wanted = shape(op.path.lstrip("/"))
    for route in all_routes():
        if shape(route.pattern) == wanted:
            return route
    return None
