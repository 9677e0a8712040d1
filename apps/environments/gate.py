"""The environments app's gate rule "environments.migrations" (registered in apps.py ready()).

A migration the artifact declares (its newest `migrations` evidence) must have run successfully,
with the same checksum, in the previous environment: `migration_not_tested`, a denial in
production (where the issue asks the gate to refuse) and a warning below it; an emergency
override may waive it. An applied version with another checksum in the target or the previous
environment is `migration_checksum_mismatch`: the script changed after it ran, never waived.
The declaration comes with the evidence the gate already read (GateContext.evidence); the rule
costs one query, the applied rows of those versions in both environments, and none when the
artifact declares no migrations."""

from __future__ import annotations

from apps.delivery.gate_rules import DENY, WARN, GateContext, GateRule

from .models import AppliedMigration

NAME = "environments.migrations"
CODES = {"migration_not_tested": True, "migration_checksum_mismatch": False}
_LISTED = 5


def _declared(ctx: GateContext) -> list[dict]:
    """The newest `migrations` evidence of the artifact, from what the gate already read."""
    summary = next((row["summary"] for row in ctx.evidence if row["kind"] == "migrations"), None)
    migrations = (summary or {}).get("migrations") or []
    return [m for m in migrations if isinstance(m, dict) and m.get("version")]


def _listed(items: list[str]) -> str:
    more = len(items) - _LISTED
    return ", ".join(items[:_LISTED]) + (f" and {more} more" if more > 0 else "")


def check(ctx: GateContext):
    if ctx.artifact is None:
        return []
    declared = _declared(ctx)
    if not declared:
        return []
    environments = [ctx.environment.pk] + ([ctx.previous_environment_id] if ctx.previous_environment_id else [])
    applied: dict[tuple[int, str], str] = {
        (env_id, version): checksum
        for env_id, version, checksum in AppliedMigration.objects.filter(
            service=ctx.service, environment_id__in=environments, status=AppliedMigration.Status.SUCCESS,
            version__in=[str(m["version"]) for m in declared]).values_list("environment_id", "version", "checksum")
    }
    untested, mismatched = [], []
    for m in declared:
        version, checksum = str(m["version"]), str(m.get("checksum", ""))
        for env_id, slug in ((ctx.environment.pk, ctx.environment.slug),
                             (ctx.previous_environment_id, ctx.previous_environment_slug)):
            on_record = applied.get((env_id, version)) if env_id else None
            if on_record is not None and on_record != checksum:
                mismatched.append(f"{version} in {slug}")
        if ctx.previous_environment_id and applied.get((ctx.previous_environment_id, version)) is None:
            untested.append(version)
    reasons = []
    if mismatched:
        reasons.append(("migration_checksum_mismatch", DENY,
                        f"Declared migrations were applied with another checksum: {_listed(mismatched)}. "
                        "A migration must not change after it ran."))
    if untested:
        reasons.append(("migration_not_tested", DENY if ctx.environment.is_production else WARN,
                        f"Declared migrations did not run successfully in {ctx.previous_environment_slug}: "
                        f"{_listed(untested)}."))
    return reasons


RULE = GateRule(name=NAME, codes=CODES, check=check, order=120)
