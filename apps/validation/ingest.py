"""Reading what pipelines send: metric samples (pairs or a Prometheus `query_range` body) and
smoke/synthetic results (JUnit XML through delivery's safe parser, or JSON). Every refusal is an
InvalidInput naming the field; nothing here writes.

Limits (settings, with these defaults): a post carries at most VALIDATION_MAX_SAMPLES_PER_POST
samples (5,000: an hour at one per second fits) and VALIDATION_MAX_BODY_BYTES bytes (1 MiB,
refused with 413 before the body is parsed); a check post at most VALIDATION_MAX_CHECK_RESULTS
results. Timestamps are unix seconds (not milliseconds), no earlier than 7 days before the
deployment started and no later than 5 minutes after now (clock skew).

A Prometheus body with several series is refused (400 `several_series`): summing error rates
or latencies of several series is rarely right, so the query must aggregate (`sum by ()`,
`histogram_quantile`) and return one series. An empty result is refused too (no samples).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.delivery.junit import parse as junit_parse
from apps.delivery.junit import parse_xml
from releaseportal.errors import InvalidInput, PortalError

from .models import CheckResult, CheckRun, Cohort

METRIC_RE = re.compile(r"^[a-z][a-z0-9_:.]{0,63}$")
CLOCK_SKEW = timedelta(minutes=5)
OLDEST_BEFORE_START = timedelta(days=7)


class BodyTooLarge(PortalError):
    status = 413
    code = "body_too_large"


def max_samples() -> int:
    return getattr(settings, "VALIDATION_MAX_SAMPLES_PER_POST", 5000)


def max_body_bytes() -> int:
    return getattr(settings, "VALIDATION_MAX_BODY_BYTES", 1024 * 1024)


def max_check_results() -> int:
    return getattr(settings, "VALIDATION_MAX_CHECK_RESULTS", 1000)


def check_body_size(length: int) -> None:
    limit = max_body_bytes()
    if length > limit:
        raise BodyTooLarge(f"The body is {length} bytes; at most {limit} are accepted per post. Send the samples in "
                           "several posts.", fields={"body": [f"At most {limit} bytes."]})


def check_request_size(request) -> None:
    """413 before the body is parsed, from Content-Length (or the body itself without one)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    check_body_size(length or len(request.body))


def clean_metric(metric: Any) -> str:
    if not isinstance(metric, str) or not METRIC_RE.match(metric):
        raise InvalidInput("metric must be a name such as error_rate_pct (lowercase letters, digits, _ : .; at most "
                           "64 characters).", fields={"metric": ["Invalid metric name."]})
    return metric


def clean_cohort(cohort: Any) -> str:
    if cohort not in Cohort.values:
        raise InvalidInput("Unknown cohort.", fields={"cohort": [f"One of {', '.join(Cohort.values)}."]})
    return cohort


def _number(value: Any, *, text_ok: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif text_ok and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def clean_samples(raw: Any, *, field: str, started_at: datetime, now: datetime, values_as_text: bool = False
                  ) -> list[list[float]]:
    """[[ts, value], …] → sorted, de-duplicated by timestamp (the last one posted wins)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("No samples.", fields={field: ["A non-empty list of [unix_seconds, value] pairs."]})
    limit = max_samples()
    if len(raw) > limit:
        raise InvalidInput(f"{len(raw)} samples in one post; at most {limit}.", code="too_many_samples",
                           fields={field: [f"At most {limit} samples per post."]})
    oldest = (started_at - OLDEST_BEFORE_START).timestamp()
    newest = (now + CLOCK_SKEW).timestamp()
    by_ts: dict[float, float] = {}
    for i, pair in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InvalidInput(f"{where} is not a [unix_seconds, value] pair.", fields={where: ["Expected a pair."]})
        ts = _number(pair[0], text_ok=False)
        value = _number(pair[1], text_ok=values_as_text)
        if ts is None:
            raise InvalidInput(f"{where}: the timestamp is not a number.", fields={where: ["Timestamp must be unix seconds."]})
        if value is None:
            expected = "a number as a string" if values_as_text else "a finite number"
            raise InvalidInput(f"{where}: the value is not {expected}.", fields={where: [f"Value must be {expected}."]})
        if ts > newest:
            hint = " (milliseconds? send seconds)" if ts > newest * 100 else ""
            raise InvalidInput(f"{where}: the timestamp is in the future{hint}.", code="timestamp_out_of_range",
                               fields={where: ["Timestamp is in the future."]})
        if ts < oldest:
            raise InvalidInput(f"{where}: the timestamp is more than 7 days before the deployment started.",
                               code="timestamp_out_of_range", fields={where: ["Timestamp too old."]})
        by_ts[ts] = value
    return [[ts, by_ts[ts]] for ts in sorted(by_ts)]


def prometheus_samples(body: Any) -> list:
    """The `values` of a Prometheus query_range response with exactly one matrix series."""
    if not isinstance(body, dict) or body.get("status") != "success":
        raise InvalidInput("Not a successful Prometheus response.", code="not_prometheus",
                           fields={"status": ['Expected "success".']})
    data = body.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise InvalidInput("A Prometheus query_range response has resultType matrix.", code="not_prometheus",
                           fields={"data.resultType": ['Expected "matrix".']})
    result = data.get("result")
    if not isinstance(result, list) or not result:
        raise InvalidInput("The Prometheus response holds no series.", fields={"data.result": ["No series."]})
    if len(result) > 1:
        raise InvalidInput(f"The Prometheus response holds {len(result)} series; aggregate them in the query "
                           "(e.g. sum by () or histogram_quantile) so it returns one.", code="several_series",
                           fields={"data.result": ["Exactly one series."]})
    series = result[0]
    if not isinstance(series, dict) or not isinstance(series.get("values"), list):
        raise InvalidInput("The series has no values.", fields={"data.result[0].values": ["Expected a list."]})
    for i, pair in enumerate(series["values"][:max_samples() + 1]):
        if isinstance(pair, list) and len(pair) == 2 and not isinstance(pair[1], str):
            raise InvalidInput("Prometheus sends values as strings.",
                               fields={f"data.result[0].values[{i}]": ['Value must be a string, e.g. "0.5".']})
    return series["values"]


# --- checks -------------------------------------------------------------------------------------

def clean_kind(kind: Any) -> str:
    if kind not in CheckRun.Kind.values:
        raise InvalidInput("Unknown kind of check.", fields={"kind": [f"One of {', '.join(CheckRun.Kind.values)}."]})
    return kind


def json_results(raw: Any) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("No results.", fields={"results": ["A non-empty list."]})
    if len(raw) > max_check_results():
        raise InvalidInput(f"At most {max_check_results()} results per post.", fields={"results": ["Too many."]})
    cleaned = []
    for i, item in enumerate(raw):
        where = f"results[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} is not an object.", fields={where: ["Expected an object."]})
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 300:
            raise InvalidInput(f"{where}.name is required (at most 300 characters).",
                               fields={f"{where}.name": ["Required, at most 300 characters."]})
        status = item.get("status")
        if status not in CheckResult.Status.values:
            raise InvalidInput(f"{where}.status is unknown.",
                               fields={f"{where}.status": [f"One of {', '.join(CheckResult.Status.values)}."]})
        duration = item.get("duration_ms")
        if duration is not None:
            duration = _number(duration, text_ok=False)
            if duration is None or duration < 0:
                raise InvalidInput(f"{where}.duration_ms must be a non-negative number.",
                                   fields={f"{where}.duration_ms": ["A non-negative number."]})
        message = item.get("message") or ""
        cleaned.append({"name": name.strip(), "status": status, "duration_ms": duration,
                        "message": str(message)[:2000]})
    return cleaned


def junit_results(data: bytes) -> list[dict]:
    """One result per <testcase> (JUnit parsed by delivery's safe parser, DTDs refused)."""
    junit_parse(data)  # refuses unsafe or non-JUnit documents with the same errors as evidence
    root = parse_xml(data, what="JUnit")
    results = []
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")[:300] or "(unnamed)"
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            status, message = "failed", (failure.get("message") or failure.text or "")[:2000]
        elif case.find("skipped") is not None:
            status, message = "skipped", ""
        else:
            status, message = "passed", ""
        try:
            duration = float(case.get("time")) * 1000 if case.get("time") else None
        except ValueError:
            duration = None
        results.append({"name": name, "status": status, "duration_ms": duration, "message": message})
        if len(results) > max_check_results():
            raise InvalidInput(f"At most {max_check_results()} test cases per report.", fields={"file": ["Too many."]})
    if not results:
        raise InvalidInput("The JUnit report holds no test cases.", fields={"file": ["No <testcase>."]})
    return results


def digest_of(data: bytes | Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()
