"""Hostile-input benchmark: every refusal a 4xx, and refused fast.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_hostile .venv/bin/python bench/hostile.py
    BENCH_ROUNDS=20 ... repeats the corpus (default 10)

Through the whole Django stack in this process (middleware, authentication, scopes, parsers,
the exception handler), sends the hostile requests of issue 17 (unicode-digit ids, offsets
beyond ±15:59, NUL in slugs, keys and query parameters, 1,000-deep JSON, months out of range,
oversized bodies, unsupported methods, malformed evidence documents) and prints the cases
tried, the 5xx count, the p50/p95 of the refusals, the p95 of the 1,000-deep JSON refusal, and
each as a ratio to a well-formed request (GET /api/v1/changes/ with one row) measured in the
same process. Targets: 0 5xx, refusal p95 <= 20 ms, a 1,000-deep JSON refused in <= 5 ms.
Figures swing with the machine's load (printed): compare runs at similar load.

It creates a bench superuser, service and artifact if missing: use your own database.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")
# Measured as deployed (compose.yaml): DEBUG off (DEBUG's technical 404 page and query log are
# not what production pays), persistent connections. Plain HTTP to the test client: no redirect.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DB_CONN_MAX_AGE", "60")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
DIGEST = "sha256:" + "b" * 64


def _setup() -> str:
    from apps.accounts.models import Team, User
    from apps.accounts.services import api_token_create
    from apps.catalog.models import Environment, Service
    from apps.delivery.models import Artifact

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-hostile", defaults={"is_superuser": True, "is_staff": True,
                                                                               "first_name": "Bench"})
    team, _ = Team.objects.get_or_create(slug="bench-hostile", defaults={"name": "Bench hostile"})
    service, _ = Service.objects.get_or_create(slug="bench-hostile-svc", defaults={"name": "Bench", "owner_team": team})
    Environment.objects.get_or_create(slug="prod", defaults={"name": "Production", "order": 30,
                                                             "is_production": True})
    Artifact.objects.get_or_create(digest=DIGEST, service=service, defaults={
        "version": "0.0.1", "git_sha": "c" * 40, "format": "oci_image", "created_by": user})
    _, raw = api_token_create(user=user, actor=user, name="bench hostile")
    return raw


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def corpus() -> list[tuple[str, str, str, str | bytes | None]]:
    """(label, method, path, JSON body or None)."""
    evidence = f"/api/v1/artifacts/{DIGEST}/evidence/"
    cases = [
        ("unicode digit id", "GET", "/api/v1/changes/%C2%B2/", None),
        ("unicode digit submit", "POST", "/api/v1/changes/%C2%B2/submit/", "{}"),
        ("huge id", "GET", "/api/v1/changes/99999999999999999999999/", None),
        ("offset +16:00", "GET", "/api/v1/deployments/?finished_after=2026-01-01T00:00:00%2B16:00", None),
        ("year 9999 -05:00", "GET", "/api/v1/incidents/?started_after=9999-12-31T23:59:59-05:00", None),
        ("gate decisions offset", "GET", "/api/v1/gates/decisions/?created_after=2026-01-01T00:00:00-23:59", None),
        ("artifacts offset", "GET", "/api/v1/artifacts/?created_after=2026-01-01T00:00:00%2B20:00", None),
        ("NUL in query", "GET", "/api/v1/deployments/?service=k8s%00", None),
        ("NUL in slug", "POST", "/api/v1/deployments/", json.dumps({"service": "k8s\u0000", "environment": "prod",
                                                                    "status": "succeeded", "artifact": DIGEST})),
        ("NUL in gate", "POST", "/api/v1/gates/check/", json.dumps({"service": "k8s\u0000", "environment": "prod",
                                                                    "artifact": DIGEST})),
        ("NUL in key", "POST", "/api/v1/changes/", json.dumps({"title": "t", "rollback_criteria": {"a\u0000": 1}})),
        ("1,000-deep JSON", "POST", "/api/v1/deployments/", '{"commits": ' + _deep(1000) + "}"),
        ("10,000-deep JSON", "POST", "/api/v1/gates/check/", _deep(10000)),
        ("dora 9999-12", "GET", "/api/v1/reports/dora/?month=9999-12", None),
        ("not JSON", "POST", "/api/v1/deployments/", "{not json"),
        ("PUT unsupported", "PUT", "/api/v1/changes/", "{}"),
        ("DELETE unsupported", "DELETE", "/api/v1/deployments/", None),
        ("TRACE", "TRACE", "/api/v1/gates/check/", None),
        ("unknown route", "GET", "/api/v1/nothing-here/", None),
        ("sarif tool string", "POST", evidence, json.dumps({"kind": "sarif", "document": {
            "version": "2.1.0", "runs": [{"tool": "x"}]}})),
        ("sarif message string", "POST", evidence, json.dumps({"kind": "sarif", "document": {
            "version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": "m"}]}]}})),
        ("cyclonedx licenses 5", "POST", evidence, json.dumps({"kind": "cyclonedx", "document": {
            "bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library", "name": "l",
                                                                            "licenses": 5}]}})),
        ("provenance digest string", "POST", evidence, json.dumps({"kind": "slsa_provenance", "document": {
            "_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1",
            "subject": [{"digest": "sha256:abc"}], "predicate": {}}})),
    ]
    return cases


def _time(client: Client, method: str, path: str, body, headers: dict) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.generic(method, path, body or "", content_type="application/json", **headers)
    return (time.perf_counter() - start) * 1000, response.status_code


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    token = _setup()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    client = Client(raise_request_exception=False)
    cases = corpus()
    for _label, method, path, body in cases:  # warm-up (imports, schema caches)
        _time(client, method, path, body, headers)
    baseline = [_time(client, "GET", "/api/v1/changes/", None, headers)[0] for _ in range(max(20, ROUNDS * 2))]
    refusals: list[float] = []
    deep: list[float] = []
    server_errors: dict[str, int] = {}
    accepted: dict[str, int] = {}
    tried = 0
    for _ in range(ROUNDS):
        for label, method, path, body in cases:
            ms, status = _time(client, method, path, body, headers)
            tried += 1
            if status >= 500:
                server_errors[label] = server_errors.get(label, 0) + 1
            elif status < 400:
                accepted[label] = accepted.get(label, 0) + 1
            else:
                refusals.append(ms)
                if label == "1,000-deep JSON":
                    deep.append(ms)
    base = statistics.median(baseline)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cases tried: {tried} ({len(cases)} kinds x {ROUNDS} rounds); load average {load:.2f} "
          f"on {os.cpu_count()} CPUs")
    print(f"5xx: {sum(server_errors.values())} {server_errors or ''}".rstrip())
    if accepted:
        print(f"not refused (should be 4xx): {accepted}")
    print(f"baseline GET /api/v1/changes/ p50: {base:.2f} ms")
    print(f"refusal p50: {_p(refusals, 0.5):.2f} ms, p95: {_p(refusals, 0.95):.2f} ms "
          f"(target <= 20 ms; {_p(refusals, 0.95) / base:.2f}x baseline)")
    print(f"1,000-deep JSON refused p95: {_p(deep, 0.95):.2f} ms (target <= 5 ms; {_p(deep, 0.95) / base:.2f}x baseline)")


if __name__ == "__main__":
    main()
