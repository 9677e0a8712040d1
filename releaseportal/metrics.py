"""`/metrics` for Prometheus: django-prometheus's request and database metrics plus the portal's
own, computed from the database at scrape time (a few aggregate queries, whatever the data size).

Portal metrics (all prefixed `releaseportal_`):
- gate_decisions{decision, reason} over the last 24 hours (reason "none" for a plain allow);
- approvals_waiting{age}: open approval stages by how long they have waited;
- evidence_pack_seconds / report_render_seconds: histograms over the last 7 / 30 days;
- evidence_packs{status}: packs by status (a growing "running" count is a stuck worker);
- celery_queue_depth{queue}: messages waiting in the Redis broker;
- audit_chain_head_seq: the newest audit event's sequence number;
- audit_chain_last_verification_timestamp_seconds{status}: when the last chain verification ended
  (intact, broken or failed).

Access fails closed: METRICS_TOKEN (a bearer token) or METRICS_ALLOWED_NETWORKS (CIDRs) must
admit the scraper; with neither configured the endpoint answers 404."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q
from django.http import Http404, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

WAIT_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("lt_1h", timedelta(hours=1)), ("lt_4h", timedelta(hours=4)), ("lt_1d", timedelta(days=1)),
    ("lt_3d", timedelta(days=3)), ("ge_3d", None),
]
DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800]


def _gate_reason_counts(since) -> list[tuple[str, str, int]]:
    """(decision, reason code, count) since `since`: one query, the JSON array unnested in SQL."""
    if connection.vendor == "postgresql":
        sql = ("SELECT g.decision, COALESCE(r.value->>'code', 'none'), COUNT(*) "
               "FROM delivery_gatedecision g LEFT JOIN LATERAL jsonb_array_elements("
               "CASE WHEN jsonb_typeof(g.reasons::jsonb) = 'array' THEN g.reasons::jsonb ELSE '[]'::jsonb END"
               ") r ON TRUE WHERE g.created_at >= %s GROUP BY 1, 2")
    else:
        sql = ("SELECT g.decision, COALESCE(json_extract(r.value, '$.code'), 'none'), COUNT(*) "
               "FROM delivery_gatedecision g LEFT JOIN json_each(CASE WHEN json_type(g.reasons) = 'array' "
               "THEN g.reasons ELSE '[]' END) r WHERE g.created_at >= %s GROUP BY 1, 2")
    with connection.cursor() as cursor:
        cursor.execute(sql, [since])
        return [(decision, code or "none", count) for decision, code, count in cursor.fetchall()]


def _histogram(name: str, doc: str, seconds: list[float]) -> HistogramMetricFamily:
    buckets, running = [], 0
    ordered = sorted(seconds)
    index = 0
    for bound in DURATION_BUCKETS:
        while index < len(ordered) and ordered[index] <= bound:
            index += 1
        running = index
        buckets.append((str(bound), running))
    buckets.append(("+Inf", len(ordered)))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(ordered))


def _queue_depths() -> dict[str, int]:
    broker = settings.CELERY_BROKER_URL or ""
    if not broker.startswith(("redis://", "rediss://")):
        return {}
    import redis

    from releaseportal.celery import app

    queues = {q.name for q in (app.conf.task_queues or [])} | {app.conf.task_default_queue or "celery"}
    client = redis.Redis.from_url(broker, socket_connect_timeout=1, socket_timeout=1)
    try:
        return {name: int(client.llen(name)) for name in sorted(queues)}
    except redis.RedisError:
        return {}
    finally:
        client.close()


class PortalCollector:
    def collect(self):
        from apps.audit.models import AuditEvent, ChainVerification, EvidencePack
        from apps.changes.models import OpenStage
        from apps.reports.models import ReportRun

        now = timezone.now()
        gate = GaugeMetricFamily("releaseportal_gate_decisions", "Gate decisions in the last 24 hours",
                                 labels=["decision", "reason"])
        for decision, reason, count in _gate_reason_counts(now - timedelta(hours=24)):
            gate.add_metric([decision, reason], count)
        yield gate

        aggregates, lower = {}, None
        for label, upper in WAIT_BUCKETS:
            window = Q()
            if upper is not None:
                window &= Q(opened_at__gt=now - upper)
            if lower is not None:
                window &= Q(opened_at__lte=now - lower)
            aggregates[label] = Count("pk", filter=window)
            lower = upper
        waiting = OpenStage.objects.aggregate(**aggregates)
        approvals = GaugeMetricFamily("releaseportal_approvals_waiting",
                                      "Open approval stages by how long they have waited", labels=["age"])
        for label, _ in WAIT_BUCKETS:
            approvals.add_metric([label], waiting[label])
        yield approvals

        packs = GaugeMetricFamily("releaseportal_evidence_packs", "Evidence packs by status", labels=["status"])
        for row in EvidencePack.objects.values("status").annotate(n=Count("pk")).order_by():
            packs.add_metric([row["status"]], row["n"])
        yield packs
        finished = EvidencePack.objects.filter(finished_at__gte=now - timedelta(days=7), started_at__isnull=False)
        yield _histogram("releaseportal_evidence_pack_seconds", "Evidence pack build time, last 7 days",
                         [(f - s).total_seconds() for s, f in finished.values_list("started_at", "finished_at")[:10000]])
        renders = ReportRun.objects.filter(generated_at__gte=now - timedelta(days=30))
        yield _histogram("releaseportal_report_render_seconds", "Report render time, last 30 days",
                         list(renders.values_list("render_seconds", flat=True)[:10000]))

        depth = GaugeMetricFamily("releaseportal_celery_queue_depth", "Messages waiting in the broker",
                                  labels=["queue"])
        for name, size in _queue_depths().items():
            depth.add_metric([name], size)
        yield depth

        head = AuditEvent.objects.aggregate(seq=Max("seq"))["seq"] or 0
        yield GaugeMetricFamily("releaseportal_audit_chain_head_seq", "Newest audit event sequence number", value=head)

        verified = GaugeMetricFamily("releaseportal_audit_chain_last_verification_timestamp_seconds",
                                     "When the newest finished chain verification ended, by its outcome",
                                     labels=["status"])
        last = (ChainVerification.objects.filter(finished_at__isnull=False).order_by("-finished_at")
                .values("status", "finished_at").first())
        if last is not None:
            verified.add_metric([last["status"]], last["finished_at"].timestamp())
        yield verified


_portal_registry = CollectorRegistry(auto_describe=False)
_portal_registry.register(PortalCollector())


def _admitted(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
    networks = settings.METRICS_ALLOWED_NETWORKS
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
    return False


def metrics_view(request):
    if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_NETWORKS):
        raise Http404("metrics are not enabled")
    if not _admitted(request):
        response = HttpResponse("metrics need the scrape token or an allowed network\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(REGISTRY) + generate_latest(_portal_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
