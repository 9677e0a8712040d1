"""The validation API (API.md "Post-deployment validation"): one view per operation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.catalog.models import Environment
from apps.catalog.permissions import get_service_for_user
from releaseportal.api.parsers import PortalFormParser, PortalJSONParser, PortalMultiPartParser
from releaseportal.api.views import PortalAPIView
from releaseportal.errors import InvalidInput, NotFound

from . import ingest, permissions, selectors, services
from .judgement import judge
from .models import RollbackDecision
from .serializers import (
    CheckRunIn,
    CheckRunOut,
    HealthPolicyIn,
    HealthPolicyOut,
    MetricSamplesIn,
    MetricSamplesOut,
    MetricsOut,
    RollbackWebhookIn,
    RollbackWebhookOut,
    VerdictOut,
    verdict_body,
)


def _stored_verdict_body(verdict) -> dict:
    """The answer to a post: the verdict the post's own judgement stored (no second judgement)."""
    decision = (RollbackDecision.objects.filter(deployment_id=verdict.deployment_id).first()
                if verdict.status == "failed" else None)
    return {"status": verdict.status, "action": verdict.action, "reasons": verdict.reasons,
            "canary": (verdict.inputs or {}).get("canary"),
            "window": {"start": verdict.window_start.isoformat() if verdict.window_start else None,
                       "end": verdict.window_end.isoformat() if verdict.window_end else None},
            "rollback": None if decision is None else {
                "decided_at": decision.decided_at.isoformat(), "incident": decision.incident_id,
                "webhook_status": decision.webhook_status, "reasons": decision.reasons}}


def _verdict_of(deployment) -> dict:
    """Judged now, read-only (the stored verdict is refreshed by posts and the beat task)."""
    inputs = selectors.judgement_inputs(deployment)
    judgement = judge(inputs)
    decision = (RollbackDecision.objects.filter(deployment_id=deployment.pk).first()
                if inputs.rolled_back else None)
    return verdict_body(judgement, canary=inputs.canary, decision=decision)


# --- health policy ------------------------------------------------------------------------

@extend_schema(tags=["validation"])
class HealthPolicyApi(PortalAPIView):
    """GET the health policy of a service in an environment (the default when none is set); PUT
    replaces it (a production policy: release managers only)."""

    required_scopes = {"GET": "catalog:read", "PUT": "catalog:write"}

    def _slot(self, request, service: str, env: str):
        found = get_service_for_user(request.user, service)
        environment = Environment.objects.filter(slug=env).first()
        if environment is None:
            raise NotFound(f"No environment {env}.", code="environment_unknown")
        return found, environment

    def _body(self, service, environment) -> dict:
        policy = selectors.health_policy_for(service.pk, environment.pk)
        return {"service": service.slug, "environment": environment.slug, **selectors.policy_as_dict(policy)}

    @extend_schema(responses=HealthPolicyOut, summary="A service's health policy in an environment")
    def get(self, request, service: str, env: str):
        found, environment = self._slot(request, service, env)
        return Response(self._body(found, environment))

    @extend_schema(request=HealthPolicyIn, responses=HealthPolicyOut, summary="Set a service's health policy")
    def put(self, request, service: str, env: str):
        found, environment = self._slot(request, service, env)
        permissions.check_edit_health_policy(request.user, found, environment)
        services.health_policy_set(service=found, environment=environment, data=request.data, actor=request.user)
        return Response(self._body(found, environment))


# --- samples ------------------------------------------------------------------------------

@extend_schema(tags=["validation"])
class DeploymentMetricsApi(PortalAPIView):
    """POST samples (pairs, or a Prometheus query_range body with ?metric=&cohort=); GET the
    stored series with the thresholds that judge them."""

    scope = "delivery"
    parser_classes = [PortalJSONParser]

    @extend_schema(responses=MetricsOut, summary="A deployment's metric series", parameters=[
        OpenApiParameter("metric", str), OpenApiParameter("cohort", str)])
    def get(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk)
        policy = selectors.effective_policy(deployment)
        metric = request.query_params.get("metric")
        cohort = request.query_params.get("cohort")
        series = selectors.series_for(deployment.pk, [metric] if metric else None, (cohort,) if cohort else None)
        start, end = judge_window(policy, deployment)
        return Response({
            "series": [{"metric": m, "cohort": c, "samples": [list(s) for s in rows]}
                       for (m, c), rows in sorted(series.items())],
            "checks": policy["checks"],
            "window": {"start": start.isoformat(), "end": end.isoformat() if end else None},
        })

    @extend_schema(request=MetricSamplesIn, responses={201: MetricSamplesOut}, summary="Post metric samples",
                   parameters=[OpenApiParameter("metric", str, description="With a Prometheus body"),
                               OpenApiParameter("cohort", str, description="With a Prometheus body")])
    def post(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk, write=True)
        ingest.check_request_size(request)
        body = request.data
        if not isinstance(body, dict):
            raise InvalidInput("The body is a JSON object.", fields={"body": ["Expected an object."]})
        if "data" in body and "status" in body:
            samples, source = ingest.prometheus_samples(body), "prometheus"
            metric = request.query_params.get("metric")
            cohort = request.query_params.get("cohort")
            if not metric:
                raise InvalidInput("With a Prometheus body, name the metric as a query parameter.",
                                   fields={"metric": ["This query parameter is required."]})
            if not cohort:
                raise InvalidInput("With a Prometheus body, name the cohort as a query parameter.",
                                   fields={"cohort": ["This query parameter is required."]})
        else:
            missing = {name: ["This field is required."] for name in ("metric", "cohort", "samples") if name not in body}
            if missing:
                raise InvalidInput("Samples need metric, cohort and samples.", fields=missing)
            metric, cohort, samples, source = body["metric"], body["cohort"], body["samples"], "pairs"
        batch, verdict = services.metric_samples_record(deployment=deployment, metric=metric, cohort=cohort,
                                                        samples=samples, source=source, actor=request.user)
        return Response({"accepted": batch.accepted, "batch": batch.pk, "verdict": _stored_verdict_body(verdict)},
                        status=status.HTTP_201_CREATED)


def judge_window(policy: dict, deployment):
    from .judgement import window_of

    return window_of(policy, deployment.started_at, deployment.finished_at)


# --- checks -------------------------------------------------------------------------------

@extend_schema(tags=["validation"])
class DeploymentChecksApi(PortalAPIView):
    """POST smoke or synthetic results: JUnit XML (multipart `file`, `kind`) or JSON."""

    scope = "delivery"
    parser_classes = [PortalJSONParser, PortalMultiPartParser, PortalFormParser]

    @extend_schema(request=CheckRunIn, responses={201: CheckRunOut}, summary="Post smoke or synthetic results")
    def post(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk, write=True)
        ingest.check_request_size(request)
        data = request.data
        kind = data.get("kind") or request.query_params.get("kind") if hasattr(data, "get") else None
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("Attach the JUnit XML report as `file`.", fields={"file": ["This field is required."]})
            ingest.check_body_size(upload.size)
            raw = upload.read()
            results, source, digest = ingest.junit_results(raw), "junit", ingest.digest_of(raw)
        else:
            if not isinstance(data, dict):
                raise InvalidInput("The body is a JSON object.", fields={"body": ["Expected an object."]})
            if "results" not in data:
                raise InvalidInput("Post results or a JUnit file.", fields={"results": ["This field is required."]})
            results, source = ingest.json_results(data["results"]), "json"
            digest = ingest.digest_of(data["results"])
        run, verdict = services.check_run_record(deployment=deployment, kind=kind, results=results, source=source,
                                           sha256=digest, actor=request.user,
                                           pipeline_run_id=str(data.get("pipeline_run_id") or ""))
        return Response({"id": run.pk, "kind": run.kind, "source": run.source, "total": run.total,
                         "passed": run.passed, "failed": run.failed, "skipped": run.skipped,
                         "verdict": _stored_verdict_body(verdict)}, status=status.HTTP_201_CREATED)


# --- verdict ------------------------------------------------------------------------------

@extend_schema(tags=["validation"], responses=VerdictOut, summary="Wait, continue or roll back?")
class DeploymentVerdictApi(PortalAPIView):
    scope = "delivery"

    def get(self, request, pk: int):
        deployment = permissions.get_deployment_for_user(request.user, pk)
        return Response(_verdict_of(deployment))


# --- rollback webhook ---------------------------------------------------------------------

def _webhook_out(hook) -> dict:
    return {"id": hook.pk, "service": hook.service.slug, "environment": hook.environment.slug if hook.environment else None,
            "pipeline": hook.pipeline, "url": hook.url, "is_active": hook.is_active,
            "created_at": hook.created_at.isoformat()}


@extend_schema(tags=["validation"])
class RollbackWebhookApi(PortalAPIView):
    """GET the service's rollback webhooks (never their secrets); PUT registers or replaces one:
    `{"url", "secret", "environment": slug | null, "pipeline": ""}`."""

    scope = "delivery"

    @extend_schema(responses=RollbackWebhookOut(many=True), summary="A service's rollback webhooks")
    def get(self, request, service: str):
        from .models import RollbackWebhook

        found = get_service_for_user(request.user, service)
        hooks = RollbackWebhook.objects.filter(service=found).select_related("service", "environment")
        return Response([_webhook_out(h) for h in hooks])

    @extend_schema(request=RollbackWebhookIn, responses=RollbackWebhookOut, summary="Register a rollback webhook")
    def put(self, request, service: str):
        from .rollback import rollback_webhook_register

        found = get_service_for_user(request.user, service)
        permissions.check_register_webhook(request.user, found)
        data = RollbackWebhookIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        environment = None
        if v.get("environment"):
            environment = Environment.objects.filter(slug=v["environment"]).first()
            if environment is None:
                raise InvalidInput(f"No environment {v['environment']}.", fields={"environment": ["Unknown."]})
        hook = rollback_webhook_register(service=found, environment=environment, url=v["url"], secret=v["secret"],
                                         pipeline=v.get("pipeline", ""), actor=request.user)
        return Response(_webhook_out(hook))
