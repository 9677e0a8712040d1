"""Loading the rows the metrics need: one query per table, straight into pandas.

No model instances are built. On PostgreSQL each query streams through `COPY ... TO STDOUT`
(CSV) into `pandas.read_csv`, which is several times faster and leaner than fetching Python
tuples; elsewhere (SQLite) the same `values_list()` query is fetched with the cursor. Times come
back as UTC `datetime64` columns.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.delivery.models import Deployment, DeploymentCommit
from apps.incidents.models import Incident

# column kinds: "int" (never null), "fk" (nullable integer, kept as float64 with NaN),
# "dt" (timestamp, UTC), "bool", "str"
Kinds = dict[str, str]


def _empty(kinds: Kinds) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in kinds})
    return _coerce(frame, kinds)


def _coerce(frame: pd.DataFrame, kinds: Kinds) -> pd.DataFrame:
    for name, kind in kinds.items():
        col = frame[name]
        if kind == "int":
            frame[name] = col.astype("int64")
        elif kind == "fk":
            frame[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif kind == "dt":
            if pd.api.types.is_numeric_dtype(col.dtype):
                frame[name] = pd.to_datetime(col, unit="us", utc=True).astype("datetime64[us, UTC]")
            else:
                frame[name] = pd.to_datetime(col, utc=True, format="ISO8601").astype("datetime64[us, UTC]")
        elif kind == "hash":
            # A 64-bit key per string (PostgreSQL hashes on the server); used only to match equal values.
            if not pd.api.types.is_integer_dtype(col.dtype):
                frame[name] = pd.util.hash_array(col.astype(str).to_numpy(dtype=object)).view("int64")
        elif kind == "bool":
            if col.dtype != bool:
                frame[name] = col.isin(["t", True]).to_numpy(dtype=bool)
        elif kind == "str":
            frame[name] = col.fillna("").astype(str)
    return frame


def _pg_expr(col: str, kind: str) -> str:
    if kind == "dt":  # epoch microseconds: parsed as numbers, far faster than ISO strings
        return f"coalesce(floor(extract(epoch from {col}) * 1000000)::bigint::text, '')"
    if kind == "bool":
        return f"CASE WHEN {col} THEN 't' ELSE 'f' END"
    if kind == "str":
        return f"""'"' || replace(coalesce({col}::text, ''), '"', '""') || '"'"""
    if kind == "hash":
        return f"coalesce(hashtextextended({col}, 0)::text, '')"
    return f"coalesce({col}::text, '')"


def _fetch_pg(qs, kinds: Kinds) -> pd.DataFrame | None:
    """The rows as CSV text built by the server in a few large chunks (string_agg), so Python
    handles a handful of strings instead of one object per row."""
    try:
        sql, params = qs.query.sql_with_params()
    except EmptyResultSet:  # e.g. `__in=[]`: nothing to fetch
        return None
    names = [f"c{i}" for i in range(len(kinds))]
    line = " || ',' || ".join(_pg_expr(f"t.{n}", kind) for n, kind in zip(names, kinds.values(), strict=True))
    first_kind = next(iter(kinds.values()))
    chunk = "mod(coalesce(t.c0, 0), 16)" if first_kind in ("int", "fk") else "0"
    # The inner SQL is the ORM's own compiled query; every value stays a bound parameter.
    wrapped = (f"SELECT string_agg(line, E'\\n') FROM (SELECT {line} AS line, {chunk} AS chunk "  # noqa: S608
               f"FROM ({sql}) AS t({', '.join(names)})) AS s GROUP BY chunk")
    # The database the ORM routes this read to (the replica inside a replica_reads() scope).
    with connections[qs.db].cursor() as cursor:
        cursor.execute(wrapped, params)
        parts = [row[0] for row in cursor.fetchall() if row[0]]
    if not parts:
        return None
    text = "\n".join(parts)
    del parts
    dtypes = {}
    for name, kind in kinds.items():
        dtypes[name] = {"int": "int64", "hash": "int64", "fk": "float64", "dt": "float64"}.get(kind, "str")
    return pd.read_csv(io.StringIO(text), header=None, names=list(kinds), dtype=dtypes, keep_default_na=False,
                       na_values={n: [""] for n, k in kinds.items() if k not in ("str", "bool")})


def fetch_frame(queryset: QuerySet, kinds: Kinds) -> pd.DataFrame:
    """Run one `values_list(*kinds)` query and return its rows as a DataFrame."""
    columns = list(kinds)
    qs = queryset.values_list(*columns)
    if connections[qs.db].vendor == "postgresql":
        frame = _fetch_pg(qs, kinds)
        if frame is None:
            return _empty(kinds)
    else:
        rows = list(qs)
        if not rows:
            return _empty(kinds)
        frame = pd.DataFrame(rows, columns=columns)
    return _coerce(frame, kinds)


@dataclass
class Dataset:
    """Everything the DORA, release and data-quality figures are computed from."""

    services: pd.DataFrame
    teams: pd.DataFrame
    deployments: pd.DataFrame
    commits: pd.DataFrame
    incidents: pd.DataFrame
    as_of: datetime
    service_ids: list[int] | None = None
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)


SERVICE_KINDS: Kinds = {"id": "int", "slug": "str", "name": "str", "owner_team_id": "int"}
TEAM_KINDS: Kinds = {"id": "int", "slug": "str", "name": "str"}
DEPLOYMENT_KINDS: Kinds = {
    "id": "int", "service_id": "int", "status": "str", "kind": "str", "started_at": "dt", "finished_at": "dt",
    "change_id": "fk", "is_unauthorized": "bool", "change__change_type__is_emergency": "bool",
}
# The sha is loaded as a 64-bit key (3 million strings would dominate time and memory); the
# data appendix fetches the text of the few it lists (commit_shas).
COMMIT_KINDS: Kinds = {"deployment_id": "int", "sha": "hash", "authored_at": "dt"}


def incident_kinds() -> Kinds:
    # link_suppressed: the incidents app's override "no link, do not infer" (METRICS.md linking rule).
    return {"id": "int", "service_id": "int", "started_at": "dt", "resolved_at": "dt",
            "caused_by_deployment_id": "fk", "severity": "str", "status": "str", "link_suppressed": "bool"}


def load_services(service_ids: Iterable[int] | None = None) -> pd.DataFrame:
    qs = Service.objects.order_by()
    if service_ids is not None:
        qs = qs.filter(pk__in=list(service_ids))
    frame = fetch_frame(qs, SERVICE_KINDS)
    return frame.rename(columns={"owner_team_id": "team_id"})


def load_teams() -> pd.DataFrame:
    return fetch_frame(Team.objects.order_by(), TEAM_KINDS)


def _scoped(qs, ids: list[int] | None, field_name: str = "service_id"):
    return qs.filter(**{f"{field_name}__in": ids}) if ids is not None else qs


def _dataset(*, ids: list[int] | None, as_of: datetime, deployments: pd.DataFrame, commits_qs,
             incidents: pd.DataFrame) -> Dataset:
    return Dataset(
        services=load_services(ids),
        teams=load_teams(),
        deployments=deployments.rename(columns={"change__change_type__is_emergency": "is_emergency"}),
        commits=fetch_frame(commits_qs, COMMIT_KINDS),
        incidents=incidents,
        as_of=as_of,
        service_ids=ids,
    )


def load_dataset(*, service_ids: Iterable[int] | None = None, as_of: datetime | None = None) -> Dataset:
    """Production deployments (every status), the commits of the succeeded ones and every
    incident, of the given services (all when None), as they stood at `as_of`.

    The whole history is loaded, not just the report window: "first deployment that shipped
    this commit" and "last deployment before the incident" may lie before the window, and a
    restoration after it. Rows created after `as_of` are left out so a report can be redone."""
    as_of = as_of or timezone.now()
    ids = sorted(set(service_ids)) if service_ids is not None else None
    deployments_qs = _scoped(Deployment.objects.filter(environment__is_production=True, created_at__lte=as_of),
                             ids).order_by()
    commits_qs = _scoped(
        DeploymentCommit.objects.filter(deployment__environment__is_production=True, deployment__status="succeeded",
                                        deployment__created_at__lte=as_of),
        ids, "deployment__service_id",
    ).order_by()
    incidents_qs = _scoped(Incident.objects.filter(created_at__lte=as_of), ids).order_by()
    return _dataset(ids=ids, as_of=as_of, deployments=fetch_frame(deployments_qs, DEPLOYMENT_KINDS),
                    commits_qs=commits_qs, incidents=fetch_frame(incidents_qs, incident_kinds()))


def load_window(*, start: datetime, service_ids: Iterable[int] | None = None,
                as_of: datetime | None = None) -> Dataset:
    """The rows that decide the figures of the months from `start` + 7 days on (the open month),
    without the history before them: production deployments finished (or, unfinished, started)
    since `start`; the commits of the succeeded ones, less those an earlier succeeded production
    deployment of the service shipped before `start` (the database checks, by sha); every
    incident with its inferred link found by the database; and the deployments older than
    `start` that incidents since `start` link to (their failure and restoration need them).

    `dora.prepare` over this dataset gives the figures of `load_dataset` for every month that
    begins at least 7 days after `start` (tests/reports/test_snapshots.py compares them)."""
    from django.db.models import Exists, OuterRef, Q, Subquery

    as_of = as_of or timezone.now()
    ids = sorted(set(service_ids)) if service_ids is not None else None
    production = Deployment.objects.filter(environment__is_production=True, created_at__lte=as_of)
    recent = Q(finished_at__gte=start) | Q(finished_at__isnull=True, started_at__gte=start)
    deployments = fetch_frame(_scoped(production.filter(recent), ids).order_by(), DEPLOYMENT_KINDS)

    # The inferred link (the service's last success before the incident) per production
    # environment, so each lookup is one backward step on (service, environment, finished_at).
    from apps.catalog.models import Environment

    kinds = dict(incident_kinds())
    incidents_qs = _scoped(Incident.objects.filter(created_at__lte=as_of), ids).order_by()
    envs = list(Environment.objects.filter(is_production=True).order_by("pk").values_list("pk", flat=True))
    for env in envs:
        last = Deployment.objects.filter(
            environment_id=env, created_at__lte=as_of, service_id=OuterRef("service_id"), status="succeeded",
            finished_at__lt=OuterRef("started_at")).order_by("-finished_at", "-id")
        incidents_qs = incidents_qs.annotate(**{f"inferred_{env}": Subquery(last.values("id")[:1]),
                                                f"inferred_{env}_at": Subquery(last.values("finished_at")[:1])})
        kinds |= {f"inferred_{env}": "fk", f"inferred_{env}_at": "dt"}
    incidents = fetch_frame(incidents_qs, kinds)
    incidents["inferred_deployment_id"] = _latest_of(incidents, envs)
    incidents = incidents.drop(columns=[c for c in incidents if c.startswith("inferred_") and c[9:10].isdigit()])

    since = incidents["started_at"] >= pd.Timestamp(start)
    linked = set(incidents.loc[since, "caused_by_deployment_id"].dropna().astype("int64")) | set(
        incidents.loc[since, "inferred_deployment_id"].dropna().astype("int64"))
    older = sorted(linked - set(deployments["id"]))
    if older:
        extra = fetch_frame(production.filter(pk__in=older).order_by(), DEPLOYMENT_KINDS)
        deployments = pd.concat([deployments, extra], ignore_index=True)

    shipped_before = DeploymentCommit.objects.filter(
        sha=OuterRef("sha"), deployment__service_id=OuterRef("deployment__service_id"),
        deployment__environment__is_production=True, deployment__status="succeeded",
        deployment__finished_at__lt=start, deployment__created_at__lte=as_of)
    commits_qs = _scoped(
        DeploymentCommit.objects.filter(deployment__environment__is_production=True, deployment__status="succeeded",
                                        deployment__created_at__lte=as_of, deployment__finished_at__gte=start)
        .filter(~Exists(shipped_before)), ids, "deployment__service_id").order_by()
    return _dataset(ids=ids, as_of=as_of, deployments=deployments, commits_qs=commits_qs, incidents=incidents)


def _latest_of(incidents: pd.DataFrame, envs: list[int]) -> pd.Series:
    """Of the per-environment candidates, the one that finished last (then the higher id, as
    the engine's own ordering by finish time and id)."""
    best = pd.Series(float("nan"), index=incidents.index)
    best_at = pd.Series(pd.NaT, index=incidents.index, dtype="datetime64[us, UTC]")
    best_id = pd.Series(-1.0, index=incidents.index)
    for env in envs:
        cand, at = incidents[f"inferred_{env}"], incidents[f"inferred_{env}_at"]
        better = cand.notna() & (best_at.isna() | (at > best_at) | ((at == best_at) & (cand > best_id)))
        best, best_at, best_id = best.where(~better, cand), best_at.where(~better, at), best_id.where(~better, cand)
    return best


def commit_shas(*, start: datetime, end: datetime, service_ids: Iterable[int] | None, as_of: datetime) -> pd.DataFrame:
    """(deployment_id, sha key, sha text) of the commits of the succeeded production deployments
    that finished in [start, end): the ones a month's lead times list, for the appendix. Selected
    by the deployments' finish time (an index range), not by a list of ids as parameters."""
    from django.db.models import F

    qs = DeploymentCommit.objects.filter(
        deployment__environment__is_production=True, deployment__status="succeeded",
        deployment__finished_at__gte=start, deployment__finished_at__lt=end, deployment__created_at__lte=as_of,
    ).annotate(sha_text=F("sha")).order_by()
    if service_ids is not None:
        qs = qs.filter(deployment__service_id__in=list(service_ids))
    return fetch_frame(qs, {"deployment_id": "int", "sha": "hash", "sha_text": "str"})
