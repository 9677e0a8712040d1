"""The OpenAPI contract, tried with schemathesis in this process (issue 17).

Shared by tests/foundation/test_api_schema_contract.py (a small, seeded run on every test run)
and bench/schemathesis_run.py (10,000+ cases). The live schema is fetched from /api/schema/ and
every operation in it is called through the whole Django stack (a WSGI callable around Django's
test handler, so it shares the test's database transaction), with cases generated from the schema
(valid and invalid) for each token given. Each response is checked for:

- a server error (any 5xx),
- an undocumented status code,
- a schema violation (body not matching the documented schema, undocumented content type).

Known records can be put into path parameters (`path_values`), so the cases reach the objects
and not only 404.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import schemathesis
from django.core.signals import got_request_exception
from django.test.client import ClientHandler
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


def wsgi_app() -> Callable:
    """Django as a WSGI callable that does not close the database connection between requests
    (Django's test client handler), so the calls see the test's records and transaction. The
    traceback of a request that raised is kept on `app.raised` (for the report)."""
    handler = ClientHandler(enforce_csrf_checks=False)

    def keep(sender, request=None, **kwargs):
        exc = sys.exc_info()[1]
        if exc is None:
            return
        # The project's own frames say where; the library's below them only how.
        frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "site-packages" not in frame.filename]
        app.raised = "".join(traceback.format_list(frames[-4:])) + f"{type(exc).__name__}: {exc}"

    def app(environ, start_response):
        app.raised = ""
        response = handler(environ)
        reason = response.reason_phrase or HTTPStatus(response.status_code).phrase
        headers = list(response.items())
        headers += [("Set-Cookie", cookie.output(header="").strip()) for cookie in response.cookies.values()]
        start_response(f"{response.status_code} {reason}", headers)
        return response

    app.raised = ""
    app.keep = keep  # the signal holds receivers weakly: keep it alive as long as the app
    got_request_exception.connect(keep)
    return app


def load_schema(app, token: str):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", app,
                                          headers={"Authorization": f"Bearer {token}"})


def classify(failure) -> str:
    if isinstance(failure, ServerError):
        return "server_error"
    if type(failure).__name__ == "UndefinedStatusCode":
        return "undocumented_status"
    return "schema_violation"


@dataclass
class Finding:
    kind: str
    operation: str
    token: str
    mode: str
    status: int
    request: str
    detail: str


@dataclass
class Tally:
    cases: int = 0
    # CPU seconds spent answering (the Django stack) and checking; the rest is generating cases.
    serving: float = 0.0
    checking: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for finding in self.findings if finding.kind == kind)

    def distinct(self) -> dict[tuple[str, str, str], Finding]:
        """One finding per (kind, operation, first line of the detail)."""
        seen: dict[tuple[str, str, str], Finding] = {}
        for finding in self.findings:
            key = (finding.kind, finding.operation, finding.detail.splitlines()[0] if finding.detail else "")
            seen.setdefault(key, finding)
        return seen

    def report(self, limit: int = 40) -> str:
        lines = [f"cases tried: {self.cases}",
                 f"5xx: {self.count('server_error')}",
                 f"schema violations: {self.count('schema_violation')}",
                 f"undocumented statuses: {self.count('undocumented_status')}",
                 f"CPU: {self.serving:.1f} s answering, {self.checking:.1f} s checking",
                 "statuses: " + ", ".join(f"{code}x{n}" for code, n in sorted(self.statuses.items()))]
        for finding in list(self.distinct().values())[:limit]:
            detail = re.sub(r"\s+", " ", finding.detail)[:1500 if finding.kind == "server_error" else 400]
            lines.append(f"  [{finding.kind}] {finding.operation} ({finding.token}, {finding.mode}) "
                         f"-> {finding.status}: {finding.request} :: {detail}")
        return "\n".join(lines)


def run(schema, tokens: dict[str, str], *, examples: int, path_values: dict[str, dict[str, Any]] | None = None,
        thorough: tuple[str, ...] | None = None, tally: Tally | None = None) -> Tally:
    """Call every operation with `examples` cases per token and variant. The `thorough` tokens
    (default: all) get valid cases with generated paths, valid cases with the known records in the
    path (`path_values`), and invalid cases (on the known path when there is one); the others only
    valid cases on the known path (a low-privilege token is refused before any validation, so
    invalid input adds nothing there). Deterministic: the generation is derandomized."""
    tally = tally or Tally()
    path_values = path_values or {}
    thorough = tuple(tokens) if thorough is None else thorough
    positive, negative = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        known = path_values.get(operation.path)
        for token_name, token in tokens.items():
            if token_name in thorough:
                variants = [(positive, None), (negative, known)] + ([(positive, known)] if known else [])
            else:
                variants = [(positive, known)]
            for mode, known_values in variants:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=known_values)
                _run_strategy(strategy, examples, tally, label=label, token=token_name, mode=str(mode),
                              headers={"Authorization": f"Bearer {token}"})
    return tally


def _run_strategy(strategy, examples: int, tally: Tally, **context) -> None:
    headers = context.pop("headers")

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(strategy)
    def one(case):
        started = time.process_time()
        response = case.call(headers=headers)
        served = time.process_time()
        tally.serving += served - started
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
            tally.checking += time.process_time() - served
        except FailureGroup as group:
            tally.checking += time.process_time() - served
            request = f"{case.method} {response.request.url}"
            raised = getattr(case.operation.app, "raised", "")
            for failure in group.exceptions:
                detail = f"{failure.title}: {failure.message}"
                if isinstance(failure, ServerError) and raised:
                    detail += f"\n{raised}"
                tally.findings.append(Finding(kind=classify(failure), status=response.status_code, request=request,
                                              detail=detail, operation=context["label"],
                                              token=context["token"], mode=context["mode"]))

    one()


def known_path_values() -> dict[str, dict[str, Any]]:
    """Path parameters naming records that exist (the first of each kind), by path template."""
    from django.apps import apps

    def first(label: str, **filters):
        return apps.get_model(label).objects.filter(**filters).order_by("pk").first()

    values: dict[str, dict[str, Any]] = {}

    def put(template: str, **params):
        if all(value is not None for value in params.values()):
            values[template] = params

    service, env = first("catalog.Service"), first("catalog.Environment")
    service_slug, env_slug = getattr(service, "slug", None), getattr(env, "slug", None)
    change, deployment = first("changes.ChangeRequest"), first("delivery.Deployment")
    release, incident = first("releases.Release"), first("incidents.Incident")
    template_version = first("releases.PipelineTemplateVersion")
    scope_exception = first("releases.ScopeException")
    provision = first("environments.Provision")
    pk = lambda record: getattr(record, "pk", None)  # noqa: E731
    put("/api/v1/access/campaigns/{id}/", id=pk(first("access_reviews.ReviewCampaign")))
    put("/api/v1/access/grants/{id}/revoke/", id=pk(first("access_reviews.AccessGrant")))
    put("/api/v1/access/items/{id}/decision/", id=pk(first("access_reviews.ReviewItem")))
    artifact = first("delivery.Artifact")
    for template in ("/api/v1/artifacts/{digest}/", "/api/v1/artifacts/{digest}/evidence/"):
        put(template, digest=getattr(artifact, "digest", None))
    for suffix in ("", "approvals/", "checkpoint-waivers/", "emergency-override/", "off-cadence-justification/",
                   "post-mortem/", "submit/", "transition/"):
        put(f"/api/v1/changes/{{ref}}/{suffix}", ref=pk(change))
    put("/api/v1/compliance-scopes/{key}/", key=getattr(first("releases.ComplianceScope"), "key", None))
    put("/api/v1/config/baselines/{service}/{env}/", service=service_slug, env=env_slug)
    put("/api/v1/config/drift/{id}/resolve/", id=pk(first("environments.DriftFinding")))
    for suffix in ("", "canary-analysis/", "checks/", "log-review/", "metrics/", "verdict/"):
        put(f"/api/v1/deployments/{{id}}/{suffix}", id=pk(deployment))
    put("/api/v1/environments/{env}/provisions/", env=env_slug)
    if provision is not None:
        put("/api/v1/environments/{env}/provisions/{id}/", env=provision.environment.slug, id=provision.pk)
    pack = first("audit.EvidencePack")
    for suffix in ("", "download/"):
        put(f"/api/v1/evidence-packs/{{id}}/{suffix}", id=pk(pack))
    for suffix in ("", "attachments/", "rollbacks/", "updates/"):
        put(f"/api/v1/incidents/{{id}}/{suffix}", id=pk(incident))
    if template_version is not None:
        slug, version = template_version.template.slug, template_version.version
        put("/api/v1/pipeline-templates/{slug}/versions/", slug=slug)
        for action in ("approve", "deprecate"):
            put(f"/api/v1/pipeline-templates/{{slug}}/versions/{{version}}/{action}/", slug=slug, version=version)
    for suffix in ("", "changes/", "issues/", "scope-exceptions/", "transition/"):
        put(f"/api/v1/releases/{{id}}/{suffix}", id=pk(release))
    if scope_exception is not None:
        put("/api/v1/releases/{id}/scope-exceptions/{exception_id}/signoffs/", id=scope_exception.release_id,
            exception_id=scope_exception.pk)
    put("/api/v1/retro-actions/{id}/close/", id=pk(first("releases.RetroAction")))
    put("/api/v1/retrospectives/{id}/actions/", id=pk(first("releases.Retrospective")))
    for suffix in ("dependencies/", "pipeline-template/", "rollback-webhook/"):
        put(f"/api/v1/services/{{service}}/{suffix}", service=service_slug)
    put("/api/v1/services/{service}/health-policy/{env}/", service=service_slug, env=env_slug)
    put("/api/v1/services/{slug}/", slug=service_slug)
    return values


UNSUPPORTED_PROBES = ("put", "patch", "delete", "trace")


def unsupported_method_answers(schema, app, token: str, path_values: dict[str, dict[str, Any]]) -> list[tuple]:
    """(method, path, status, error code or None) for every method of UNSUPPORTED_PROBES that a
    path of the schema does not document, sent with the known records in the path (or 1)."""
    from werkzeug.test import Client

    client = Client(app)
    answers = []
    for path, operations in schema.raw_schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        known = path_values.get(path, {})
        url = re.sub(r"\{(\w+)\}", lambda m, known=known: str(known.get(m.group(1), 1)), path)
        for method in UNSUPPORTED_PROBES:
            if method in operations:
                continue
            response = client.open(url, method=method.upper(), headers={"Authorization": f"Bearer {token}"})
            try:
                code = response.get_json(silent=True)["error"]["code"]
            except (TypeError, KeyError):
                code = None
            answers.append((method.upper(), url, response.status_code, code))
    return answers
