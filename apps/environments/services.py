"""Environment writes: provisioning records and schema migrations.

Each function runs in one transaction, writes history naming the actor and exactly one audit
event, and sends its side effects (an email) on commit. A refused request writes nothing, except
the checksum mismatch, which is itself the record: its finding and audit event are kept while
the report is refused."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.actor import resolve_actor
from apps.audit.history import atomic_as, history_copy_rows
from apps.audit.services import audit_event_record
from apps.catalog.models import Environment, Service
from apps.changes.models import ChangeRequest
from apps.changes.selectors import change_is_deployable
from releaseportal.errors import Conflict, InvalidInput, NotAllowed

from . import permissions, terraform
from .models import AppliedMigration, MigrationMismatch, MigrationTool, Provision, ProvisionResource

log = logging.getLogger(__name__)

# Which runs can have changed production: a plan only proposes; a failed apply may have destroyed
# part of what it planned to before it stopped, so it is judged like a completed one.
JUDGED_STATUSES = {Provision.Status.APPLIED, Provision.Status.FAILED}
# The tools whose plans are `terraform show -json` documents.
PLAN_TOOLS = {Provision.Tool.TERRAFORM, Provision.Tool.OPENTOFU}


def _user_of(actor: Any):
    return resolve_actor(actor).user


def _saved(obj, *, actor: Any, **kwargs):
    obj._history_user = _user_of(actor)
    obj.save(**kwargs)
    return obj


# --- provisioning ---------------------------------------------------------------------------

def provision_authorized(*, environment: Environment, change: ChangeRequest | None) -> bool:
    """A run is backed by a change when the change is for this environment and deployable (the
    changes app decides: approvals on its current content, a standard template, or an override)."""
    return change is not None and change.environment_id == environment.pk and change_is_deployable(change)


def provision_record(*, environment: Environment, tool: str, status: str, actor: Any, repository: str = "",
                     git_sha: str = "", pipeline_run_id: str = "", change: ChangeRequest | None = None,
                     plan: Any = None) -> Provision:
    """Record an IaC run. The plan (if any) is parsed first and only its shape kept; a production
    run that deletes or replaces resources without a change that backs it is recorded all the
    same, flagged unauthorised, and the release managers and the reporting team are told."""
    user = _user_of(actor)
    if tool not in Provision.Tool.values:
        raise InvalidInput(f"Unknown tool {tool!r}.", fields={"tool": ["unknown"]})
    if status not in Provision.Status.values:
        raise InvalidInput(f"Unknown status {status!r}.", fields={"status": ["unknown"]})
    if not permissions.can_report(user, environment=environment):
        raise NotAllowed("Only portal members report provisioning runs.", code="permission_denied")
    if plan is not None and tool not in PLAN_TOOLS:
        raise InvalidInput(f"A plan is read for Terraform and OpenTofu runs only, not {tool}.", code="invalid_plan",
                           fields={"plan": [f"not read for {tool}"]})
    parsed = terraform.parse(plan) if plan is not None else None
    summary = parsed.summary if parsed else dict.fromkeys(("create", "update", "delete", "replace", "read",
                                                           "no_op"), 0)
    destructive = bool(summary["delete"] or summary["replace"])
    unauthorized = (environment.is_production and status in JUDGED_STATUSES and destructive
                    and not provision_authorized(environment=environment, change=change))
    with atomic_as(actor):
        provision = _saved(Provision(
            environment=environment, tool=tool, repository=repository[:300], git_sha=git_sha[:40],
            pipeline_run_id=pipeline_run_id[:100], status=status, change=change, has_plan=parsed is not None,
            plan_format_version=parsed.format_version if parsed else "",
            tool_version=parsed.tool_version if parsed else "", is_unauthorized=unauthorized, created_by=user,
            **Provision.counts(summary)), actor=actor)
        if parsed and parsed.resources:
            ProvisionResource.objects.bulk_create(
                [ProvisionResource(provision=provision, address=r.address, resource_type=r.resource_type,
                                   mode=r.mode, action=r.action) for r in parsed.resources], batch_size=1000)
        audit_event_record(action="environments.provision_recorded", target=provision, actor=actor, details={
            "environment": environment.slug, "tool": tool, "status": status, "repository": provision.repository,
            "git_sha": provision.git_sha, "pipeline_run_id": provision.pipeline_run_id,
            "change": change.number if change else "", "summary": summary, "unauthorized": unauthorized,
        })
        if unauthorized:
            from . import tasks

            transaction.on_commit(lambda: tasks.notify_unauthorized_provision.delay(provision.pk))
    if unauthorized:
        log.warning("unauthorised provisioning run %s in %s (pipeline run %s)", provision.pk, environment.slug,
                    provision.pipeline_run_id)
    return provision


# --- schema migrations ----------------------------------------------------------------------

@dataclass
class MigrationsRecorded:
    created: list[AppliedMigration] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class _Report:
    version: str
    description: str
    checksum: str
    status: str
    applied_at: datetime


def _clean_reports(migrations: list[dict]) -> list[_Report]:
    if not migrations:
        raise InvalidInput("List at least one migration.", fields={"migrations": ["empty"]})
    reports = []
    for index, m in enumerate(migrations):
        status = m.get("status") or AppliedMigration.Status.SUCCESS
        if status not in AppliedMigration.Status.values:
            raise InvalidInput(f"Unknown status {status!r}.", fields={f"migrations[{index}].status": ["unknown"]})
        reports.append(_Report(version=str(m["version"]), description=str(m.get("description") or "")[:300],
                               checksum=str(m["checksum"]), status=status,
                               applied_at=m.get("applied_at") or timezone.now()))
    return reports


def _sort_out(reports: list[_Report], existing: list[tuple[str, str, str]]):
    """Each report is new, a duplicate, or a mismatch (its version applied with another checksum),
    judged against the stored rows and the reports before it in the same request."""
    applied = {version: checksum for version, checksum, status in existing if status == "success"}
    seen = set(existing)
    new, duplicates, mismatches = [], 0, []
    for report in reports:
        on_record = applied.get(report.version)
        if on_record is not None and on_record != report.checksum:
            mismatches.append((report, on_record))
        elif on_record is not None or (report.version, report.checksum, report.status) in seen:
            duplicates += 1  # applied with this checksum already, or the same outcome reported again
        else:
            new.append(report)
            seen.add((report.version, report.checksum, report.status))
            if report.status == "success":
                applied[report.version] = report.checksum
    return new, duplicates, mismatches


def migrations_record(*, service: Service, environment: Environment, tool: str, migrations: list[dict],
                      actor: Any, pipeline_run_id: str = "", _retry: bool = True) -> MigrationsRecorded:
    """Record what a pipeline applied. The same version and checksum again changes nothing; a
    failure and then a success of the same version and checksum is a retry (both kept); another
    checksum for an applied version refuses the whole report (409 migration_checksum_mismatch)
    and keeps only the mismatch finding and its audit event."""
    user = _user_of(actor)
    if tool not in MigrationTool.values:
        raise InvalidInput(f"Unknown tool {tool!r}.", fields={"tool": ["unknown"]})
    if not permissions.can_report(user, environment=environment, service=service):
        raise NotAllowed(f"{user.get_username() if user else 'This caller'} does not hold the deployer privilege "
                         f"for {service.slug} in {environment.slug}.", code="deployer_not_authorized")
    reports = _clean_reports(migrations)
    versions = sorted({r.version for r in reports})
    try:
        with atomic_as(actor):
            existing = list(AppliedMigration.objects.filter(service=service, environment=environment,
                                                            version__in=versions)
                            .values_list("version", "checksum", "status"))
            new, duplicates, mismatches = _sort_out(reports, existing)
            if mismatches:
                _mismatches_flag(service=service, environment=environment, tool=tool, mismatches=mismatches,
                                 pipeline_run_id=pipeline_run_id, actor=actor)
            else:
                result = MigrationsRecorded(duplicates=duplicates)
                now = timezone.now()
                # One INSERT for the rows and one for their history (a fresh database reports
                # hundreds at once), the history stamped with the actor as a save would.
                result.created = AppliedMigration.objects.bulk_create([AppliedMigration(
                    service=service, environment=environment, tool=tool, version=r.version,
                    description=r.description, checksum=r.checksum, status=r.status, applied_at=r.applied_at,
                    pipeline_run_id=pipeline_run_id[:100], created_by=user, created_at=now) for r in new])
                if result.created:
                    history_copy_rows(AppliedMigration.objects.filter(pk__in=[m.pk for m in result.created]),
                                      actor=actor, when=now, reason="", history_type="+")
                if result.created:
                    audit_event_record(action="environments.migrations_applied", actor=actor,
                                       object_type="catalog.service", object_id=str(service.pk),
                                       object_repr=service.slug, details={
                                           "service": service.slug, "environment": environment.slug, "tool": tool,
                                           "pipeline_run_id": pipeline_run_id, "duplicates": duplicates,
                                           "recorded": [{"version": m.version, "checksum": m.checksum,
                                                         "status": m.status} for m in result.created]})
    except IntegrityError:
        # A simultaneous report of the same migrations won the race: judge ours against its rows.
        if not _retry:
            raise
        return migrations_record(service=service, environment=environment, tool=tool, migrations=migrations,
                                 actor=actor, pipeline_run_id=pipeline_run_id, _retry=False)
    if mismatches:
        first, on_record = mismatches[0]
        raise Conflict(f"{service.slug} {first.version} is applied in {environment.slug} with checksum "
                       f"{on_record}, not {first.checksum}: a migration must not change after it ran.",
                       code="migration_checksum_mismatch",
                       fields={"migrations": [f"{r.version}: applied with another checksum" for r, _ in mismatches]})
    return result


def _mismatches_flag(*, service: Service, environment: Environment, tool: str, mismatches, pipeline_run_id: str,
                     actor: Any) -> None:
    now = timezone.now()
    user = _user_of(actor)
    for report, on_record in mismatches:
        finding = (MigrationMismatch.objects.select_for_update()
                   .filter(service=service, environment=environment, version=report.version,
                           reported_checksum=report.checksum).first())
        if finding is None:
            finding = MigrationMismatch(service=service, environment=environment, version=report.version,
                                        reported_checksum=report.checksum, first_seen_at=now, created_by=user)
        else:
            finding.occurrences += 1
        finding.tool, finding.applied_checksum, finding.reported_status = tool, on_record, report.status
        finding.pipeline_run_id, finding.last_seen_at = pipeline_run_id[:100], now
        _saved(finding, actor=actor)
    audit_event_record(action="environments.migration_checksum_mismatch", actor=actor,
                       object_type="catalog.service", object_id=str(service.pk), object_repr=service.slug, details={
                           "service": service.slug, "environment": environment.slug, "tool": tool,
                           "pipeline_run_id": pipeline_run_id,
                           "mismatches": [{"version": r.version, "applied_checksum": c, "reported_checksum": r.checksum}
                                          for r, c in mismatches]})
