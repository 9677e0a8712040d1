"""Assembling an evidence pack into a ZIP, streamed with bounded memory.

Layout (every file is listed with its SHA-256 in manifest.json, which manifest.sig signs):

    manifest.json  manifest.sig  public_key.pem  verify.py  README.txt  summary.pdf
    listings/deployments.csv      every deployment in scope, reconciled; exceptions first
    listings/exceptions.csv       the production deployments that fail the control
    listings/changes.csv          every change request in scope
    changes/<CHG-…>/change.json, approvals.json, emergency_overrides.json, gate_decisions.json,
        evidence_documents.json, deployments.json, history.json, audit_events.jsonl,
        validation.json (post-deployment validation of its deployments, when any: verdict,
        judgement inputs, rollback decision, canary analysis, checks, sample digests)
    deployments/deployment-<id>/  the same for a deployment with no change request
    listings/config_drift.csv     configuration drift findings in scope (open at some time in the
                                  period; for a change pack, those its change accepted), masked
    config/drift_findings.json, config/drift_audit_events.jsonl  the same findings, whole, with
                                  their audit events (detection, notification, resolution)
    audit/checkpoint.json         the chain checkpoint: the last covered event's seq and hash
    audit/chain.jsonl             [seq, prev_hash, hash] of every event from the first covered
                                  one to the checkpoint, so the covered events' places in the
                                  chain can be checked without the others' contents

Reproducibility: the files depend only on the parameters and the data. Who generated the pack
and when, and the portal's chain head at that moment, are written only into manifest.json
("generation"), never into a hashed file; the checkpoint is the last *covered* event, not the
moving head. Two packs of the same parameters over the same data list the same files with the
same hashes; only their manifests (and so their signatures and ZIP hashes) differ.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.db.models import Max

from ..chain import HASHED_FIELDS, format_time
from ..models import GENESIS_HASH, AuditEvent
from ..signing import current_key
from . import sources
from .control import EXCEPTION_LABELS, classify
from .prefetch import prefetched
from .scope import CONTROLS, changes_in_scope, control_items, deployments_in_scope, period_bounds, title_for
from .summary import render_summary_pdf
from .writer import CsvSpool, PackWriter, dumps_manifest

FORMAT = "release-portal-evidence-pack/1"
CHUNK = 500
SUMMARY_EXCEPTION_ROWS = 100
# Packs read through server-side cursors; by default PostgreSQL plans those for the first 10%
# of rows (nested loops), several times slower when we read them all.
TUNING = ("SET cursor_tuple_fraction = 1.0",)
VERIFY_SOURCE = Path(__file__).resolve().parents[3] / "releaseportal" / "verify.py"

DEPLOYMENT_FIELDS = ("id", "service_id", "service__slug", "service__compliance_scopes", "environment__slug",
                     "environment__is_production", "version", "artifact_id", "artifact__digest", "status", "kind",
                     "started_at", "finished_at", "change_id", "pipeline_run_id", "pipeline_url",
                     "is_unauthorized", "created_by__username", "rollback_of_id", "gate_decision_id")
CHANGE_FIELDS = ("id", "number", "title", "state", "service_id", "service__slug", "environment__slug",
                 "change_type__slug", "change_type__is_emergency", "change_type__is_pre_approved", "requester_id",
                 "requester__username", "implementer_id", "implementer__username", "risk_level", "content_hash",
                 "created_at", "submitted_at", "approved_at", "implemented_at", "closed_at", "compliance_scopes")
# What the reconciliation reads of a change: the control's inputs and the listing's columns.
RECONCILE_CHANGE_FIELDS = ("id", "number", "service_id", "change_type__slug", "change_type__is_emergency",
                           "change_type__is_pre_approved", "requester_id", "requester__username", "implementer_id",
                           "submitted_at", "approved_at")
DEPLOYMENT_HEADER = ["deployment_id", "service", "environment", "production", "sox_scoped", "version",
                     "artifact_digest", "status", "kind", "started_at", "finished_at", "change", "change_type",
                     "emergency", "requester", "approved_at", "approvers", "result", "exceptions"]
DRIFT_HEADER = ["finding", "service", "environment", "production", "key", "kind", "expected", "observed", "must_match",
                "secret", "first_seen", "last_seen", "deployment", "status", "resolution", "resolved_at", "resolved_by",
                "resolving_change"]
CHANGE_HEADER = ["change", "title", "service", "environment", "change_type", "emergency", "state", "requester",
                 "implementer", "submitted_at", "approved_at", "closed_at", "approvals", "deployments", "folder"]
README = """Release Portal evidence pack
============================

Verify it offline (Python 3.10+ and the `cryptography` package, nothing else), against the
public key the portal publishes (its /audit/keys/ page), never the one shipped in this pack:

    python verify.py THIS_PACK.zip --public-key portal-published-key.pem

verify.py checks the Ed25519 signature of manifest.json by that key, the SHA-256 of every file
the manifest lists, and the chain of the included audit events up to the checkpoint in
audit/checkpoint.json. Without --public-key, or for a pack signed by any other key (an edited
pack re-signed), it fails and prints which key signed the pack.

manifest.json holds the parameters, the counts, the generation record (who, when) and the
list of files. Every other file depends only on the parameters and the data, so a pack
generated again over the same data lists the same files with the same hashes.
Start with summary.pdf and listings/exceptions.csv.
"""


def _event_line(values: dict[str, Any]) -> dict[str, Any]:
    line = {key: values[key] for key in HASHED_FIELDS}
    line["created_at"] = format_time(values["created_at"])
    line["prev_hash"] = values["prev_hash"]
    line["hash"] = values["hash"]
    return line


_EVENT_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")


class _Progress:
    def __init__(self, total: int, report: Callable[[int], None] | None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.report = report
        self.last = -1

    def add(self, count: int) -> None:
        self.done += count
        percent = min(95, int(self.done * 95 / self.total))
        if self.report and percent != self.last:
            self.last = percent
            self.report(percent)


class PackBuilder:
    def __init__(self, params: dict[str, Any], *, generation: dict[str, Any],
                 on_progress: Callable[[int], None] | None = None) -> None:
        self.params = params
        self.generation = generation
        self.on_progress = on_progress
        self.key = current_key()
        self.min_seq: int | None = None
        self.max_seq: int | None = None
        self.event_files: list[str] = []
        self.events_included = 0
        self.summary_exceptions: list[dict[str, Any]] = []
        self.exception_counts: dict[str, int] = {}
        self.missing_documents: list[str] = []

    # --- entry point ---------------------------------------------------------------------
    def build(self, fileobj: IO[bytes]) -> dict[str, Any]:
        from django.db import connections

        from releaseportal.dbrouter import read_alias

        # The connection the pack's reads are routed to (the replica inside a replica_reads() scope).
        connection = connections[read_alias()]
        # Packs read through server-side cursors; by default PostgreSQL plans those for the
        # first 10% of rows (nested loops), several times slower when we read them all.
        tuned = connection.vendor == "postgresql"
        if tuned:
            with connection.cursor() as cursor:
                cursor.execute("SET cursor_tuple_fraction = 1.0")
        try:
            return self._build(fileobj)
        finally:
            if tuned:
                with connection.cursor() as cursor:
                    cursor.execute("RESET cursor_tuple_fraction")

    def _build(self, fileobj: IO[bytes]) -> dict[str, Any]:
        from apps.delivery.models import Deployment

        deployments = deployments_in_scope(self.params)
        changes = changes_in_scope(self.params, deployments)
        progress = _Progress(deployments.count() + changes.count(), self.on_progress)
        writer = PackWriter(fileobj)

        dep_rows, dep_exceptions, counts = self._reconcile(deployments, progress)
        unlinked = deployments.filter(change__isnull=True).order_by("pk")
        # The PDF is rendered early, while the ZIP's directory is still small, so WeasyPrint's
        # memory and the directory's never add up. It needs only the population figures.
        summary_counts = {**counts, "changes": changes.count(), "deployments_without_change": unlinked.count(),
                          "exceptions_by_kind": dict(sorted(self.exception_counts.items()))}
        writer.write_bytes("summary.pdf", render_summary_pdf(
            params=self.params, title=title_for(self.params), counts=summary_counts,
            exceptions=self.summary_exceptions, exception_labels=EXCEPTION_LABELS,
            more_exceptions=max(0, counts["exceptions"] - len(self.summary_exceptions)),
            control=CONTROLS.get(self.params.get("control", "")), key_id=self.key.key_id,
            control_items=control_items(self.params.get("control", ""), self.exception_counts),
            development_key=self.key.is_development))
        change_rows = CsvSpool(CHANGE_HEADER)
        counts["changes"] = self._write_changes(writer, changes, change_rows, progress)
        counts["deployments_without_change"] = self._write_unlinked(writer, Deployment, unlinked)
        counts.update(self._write_config_drift(writer))
        checkpoint = self._write_chain(writer)

        all_rows = CsvSpool(DEPLOYMENT_HEADER)
        dep_exceptions.append_to(all_rows)
        dep_rows.append_to(all_rows)
        writer.copy_from("listings/deployments.csv", all_rows.file)
        writer.copy_from("listings/exceptions.csv", dep_exceptions.file)
        writer.copy_from("listings/changes.csv", change_rows.file)
        counts["audit_events"] = self.events_included
        counts["exceptions_by_kind"] = dict(sorted(self.exception_counts.items()))
        counts["evidence_documents_missing"] = len(self.missing_documents)
        if self.missing_documents:
            writer.write_bytes("listings/missing_evidence_documents.txt",
                               ("\n".join(self.missing_documents) + "\n").encode("utf-8"))

        writer.write_bytes("public_key.pem", self.key.public_key_pem.encode("ascii"))
        writer.write_bytes("verify.py", VERIFY_SOURCE.read_bytes())
        writer.write_bytes("README.txt", README.encode("utf-8"))

        manifest = self._manifest(writer, counts, checkpoint)
        manifest_bytes = dumps_manifest(manifest)
        writer.write_bytes("manifest.json", manifest_bytes)
        writer.write_bytes("manifest.sig", base64.b64encode(self.key.sign(manifest_bytes)) + b"\n")
        writer.close()
        if self.on_progress:
            self.on_progress(99)
        return manifest

    def _manifest(self, writer: PackWriter, counts: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
        parameters = dict(self.params)
        signing = {"algorithm": "ed25519", "key_id": self.key.key_id, "public_key_file": "public_key.pem",
                   "development": self.key.is_development}
        if self.key.is_development:
            parameters["WARNING"] = ("DEVELOPMENT SIGNING KEY: this pack is signed with a key derived from the "
                                     "portal's SECRET_KEY because no EVIDENCE_SIGNING_KEY is configured. "
                                     "It is not evidence.")
            signing["warning"] = parameters["WARNING"]
        manifest = {
            "format": FORMAT,
            "title": title_for(self.params),
            "parameters": parameters,
            "generation": self.generation,
            "counts": counts,
            "signing_key": signing,
            "audit": {"checkpoint": checkpoint, "checkpoint_file": "audit/checkpoint.json",
                      "chain_file": "audit/chain.jsonl", "event_files": self.event_files},
            "files": writer.manifest_files(),
            "reproducibility": "Every listed file depends only on the parameters and the data; the generation "
                               "record lives only in this manifest.",
        }
        if self.params.get("control"):
            manifest["control"] = {"key": self.params["control"], "title": CONTROLS[self.params["control"]],
                                   "controls": control_items(self.params["control"], self.exception_counts)}
        return manifest

    # --- deployments: reconciliation listings ------------------------------------------
    def _reconcile(self, deployments, progress: _Progress) -> tuple[CsvSpool, CsvSpool, dict[str, Any]]:
        ok_rows, exception_rows = CsvSpool(DEPLOYMENT_HEADER), CsvSpool(DEPLOYMENT_HEADER)
        counts = {"deployments": 0, "production_deployments": 0, "exceptions": 0}
        for chunk, changes, approvals, overrides in prefetched(lambda: self._reconcile_chunks(deployments),
                                                               setup_sql=TUNING):
            for dep in chunk:
                change = changes.get(dep["change_id"])
                cid = dep["change_id"]
                codes = classify(dep, change, approvals.get(cid, []), overrides.get(cid, [])) \
                    if dep["environment__is_production"] else []
                result = "n/a" if not dep["environment__is_production"] else ("exception" if codes else "ok")
                approvers = sorted({str(uid) for a in approvals.get(cid, []) for uid in sources.approving_user_ids(a)})
                line = [dep["id"], dep["service__slug"], dep["environment__slug"],
                        "yes" if dep["environment__is_production"] else "no",
                        "yes" if "sox" in (dep["service__compliance_scopes"] or []) else "no",
                        dep["version"], dep["artifact__digest"], dep["status"], dep["kind"],
                        sources.json_value(dep["started_at"]), sources.json_value(dep["finished_at"]),
                        change["number"] if change else "", change["change_type__slug"] if change else "",
                        ("yes" if change["change_type__is_emergency"] else "no") if change else "",
                        change["requester__username"] if change else "",
                        sources.json_value(change["approved_at"]) if change else "",
                        " ".join(approvers), result, ";".join(codes)]
                counts["deployments"] += 1
                if dep["environment__is_production"]:
                    counts["production_deployments"] += 1
                if codes:
                    counts["exceptions"] += 1
                    exception_rows.writerow(line)
                    for code in codes:
                        self.exception_counts[code] = self.exception_counts.get(code, 0) + 1
                    if len(self.summary_exceptions) < SUMMARY_EXCEPTION_ROWS:
                        self.summary_exceptions.append(dict(zip(DEPLOYMENT_HEADER, line, strict=True)))
                else:
                    ok_rows.writerow(line)
            progress.add(len(chunk))
        return ok_rows, exception_rows, counts

    def _reconcile_chunks(self, deployments) -> Iterator[tuple[list[dict[str, Any]], dict, dict, dict]]:
        """1,000 deployments at a time, in time order, with their changes, approvals and overrides."""
        from apps.changes.models import ChangeRequest

        def read(chunk):
            change_ids = {d["change_id"] for d in chunk if d["change_id"]}
            changes = {c["id"]: c for c in
                       ChangeRequest.objects.filter(pk__in=change_ids).values(*RECONCILE_CHANGE_FIELDS)}
            return (chunk, changes, self._grouped(sources.approval_models(), change_ids),
                    self._grouped(sources.emergency_models(), change_ids))

        chunk: list[dict[str, Any]] = []
        for dep in deployments.order_by("at", "pk").values(*DEPLOYMENT_FIELDS).iterator(chunk_size=2000):
            chunk.append(dep)
            if len(chunk) >= 1000:
                yield read(chunk)
                chunk = []
        if chunk:
            yield read(chunk)

    @staticmethod
    def _grouped(models_and_fks, ids) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {}
        for model, fk in models_and_fks:
            for key, rows in sources.rows_for(model, fk, ids).items():
                grouped.setdefault(key, []).extend({"_model": sources.label(model), **r} for r in rows)
        return grouped

    # --- per change folders ----------------------------------------------------------------
    def _write_changes(self, writer: PackWriter, changes, listing: CsvSpool, progress: _Progress) -> int:
        written = 0
        for chunk in prefetched(lambda: self._change_chunks(changes), setup_sql=TUNING):
            written += self._write_change_chunk(writer, chunk, listing)
            progress.add(len(chunk["changes"]))
        return written

    def _change_chunks(self, changes) -> Iterator[dict[str, Any]]:
        """Everything the folders of CHUNK changes need, read in a fixed number of queries."""
        chunk: list[int] = []
        # Keyset by number: numbers are unique and what the folders are named after.
        for pk in changes.order_by("number").values_list("pk", flat=True).iterator(chunk_size=2000):
            chunk.append(pk)
            if len(chunk) >= CHUNK:
                yield self._read_change_chunk(chunk)
                chunk = []
        if chunk:
            yield self._read_change_chunk(chunk)

    def _read_change_chunk(self, ids: list[int]) -> dict[str, Any]:
        from apps.changes.models import ChangeRequest
        from apps.delivery.models import Deployment

        changes = list(ChangeRequest.objects.filter(pk__in=ids).order_by("number").values(*CHANGE_FIELDS))
        deployments: dict[int, list[dict[str, Any]]] = {}
        for dep in Deployment.objects.filter(change_id__in=ids).order_by("started_at", "pk").values(*DEPLOYMENT_FIELDS):
            deployments.setdefault(dep["change_id"], []).append(dep)
        approvals = self._grouped(sources.approval_models(), ids)
        overrides = self._grouped(sources.emergency_models(), ids)
        gates = self._grouped(sources.gate_models(), ids)
        artifact_ids = {d["artifact_id"] for deps in deployments.values() for d in deps if d["artifact_id"]}
        evidence_by_artifact = self._grouped(sources.evidence_models(), artifact_ids)
        validation = sources.validation_evidence(d["id"] for deps in deployments.values() for d in deps)
        history: dict[int, list[dict[str, Any]]] = {}
        for h in ChangeRequest.history.filter(id__in=ids).order_by("history_date", "history_id").values():
            history.setdefault(h["id"], []).append(h)
        keys = {("changes.changerequest", str(pk)): pk for pk in ids}
        for cid, deps in deployments.items():
            keys.update({("delivery.deployment", str(d["id"])): cid for d in deps})
        for group in (approvals, overrides, gates):
            for cid, rows in group.items():
                keys.update({(r["_model"], str(r["id"])): cid for r in rows})
        return {"changes": changes, "deployments": deployments, "approvals": approvals, "overrides": overrides,
                "gates": gates, "evidence_by_artifact": evidence_by_artifact, "history": history,
                "validation": validation, "events": self._events_for(keys)}

    def _write_change_chunk(self, writer: PackWriter, chunk: dict[str, Any], listing: CsvSpool) -> int:
        changes, deployments, approvals = chunk["changes"], chunk["deployments"], chunk["approvals"]
        overrides, gates, history, events = chunk["overrides"], chunk["gates"], chunk["history"], chunk["events"]
        evidence_by_artifact = chunk["evidence_by_artifact"]
        for change in changes:
            cid = change["id"]
            folder = f"changes/{change['number'] or f'change-{cid}'}"
            change_deps = deployments.get(cid, [])
            evidence = [e for d in change_deps for e in evidence_by_artifact.get(d["artifact_id"], [])]
            writer.write_json(f"{folder}/change.json", change)
            writer.write_json(f"{folder}/approvals.json", approvals.get(cid, []))
            writer.write_json(f"{folder}/emergency_overrides.json", overrides.get(cid, []))
            writer.write_json(f"{folder}/gate_decisions.json", gates.get(cid, []))
            writer.write_json(f"{folder}/evidence_documents.json", evidence)
            self._write_documents(writer, folder, evidence)
            writer.write_json(f"{folder}/deployments.json", change_deps)
            validated = [{"deployment": d["id"], **chunk["validation"][d["id"]]} for d in change_deps
                         if d["id"] in chunk["validation"]]
            if validated:
                writer.write_json(f"{folder}/validation.json", validated)
            writer.write_json(f"{folder}/history.json", history.get(cid, []))
            self._write_events(writer, f"{folder}/audit_events.jsonl", events.get(cid, []))
            listing.writerow([change["number"], change["title"], change["service__slug"], change["environment__slug"],
                              change["change_type__slug"], "yes" if change["change_type__is_emergency"] else "no",
                              change["state"], change["requester__username"], change["implementer__username"],
                              sources.json_value(change["submitted_at"]), sources.json_value(change["approved_at"]),
                              sources.json_value(change["closed_at"]), len(approvals.get(cid, [])), len(change_deps),
                              folder])
        return len(changes)

    def _write_unlinked(self, writer: PackWriter, Deployment, unlinked) -> int:
        written = 0
        chunk: list[dict[str, Any]] = []

        def flush() -> None:
            ids = [d["id"] for d in chunk]
            history: dict[int, list[dict[str, Any]]] = {}
            for h in Deployment.history.filter(id__in=ids).order_by("history_date", "history_id").values():
                history.setdefault(h["id"], []).append(h)
            gate_rows = {g["id"]: g for g in sources.gate_decisions_by_id([d["gate_decision_id"] for d in chunk])}
            gates = {d["id"]: [gate_rows[d["gate_decision_id"]]] if d["gate_decision_id"] in gate_rows else []
                     for d in chunk}
            events = self._events_for({("delivery.deployment", str(i)): i for i in ids})
            validation = sources.validation_evidence(ids)
            for dep in chunk:
                folder = f"deployments/deployment-{dep['id']}"
                writer.write_json(f"{folder}/deployment.json", dep)
                if dep["id"] in validation:
                    writer.write_json(f"{folder}/validation.json", {"deployment": dep["id"], **validation[dep["id"]]})
                writer.write_json(f"{folder}/gate_decisions.json", gates.get(dep["id"], []))
                writer.write_json(f"{folder}/history.json", history.get(dep["id"], []))
                self._write_events(writer, f"{folder}/audit_events.jsonl", events.get(dep["id"], []))
            chunk.clear()

        for dep in unlinked.values(*DEPLOYMENT_FIELDS).iterator(chunk_size=1000):
            chunk.append(dep)
            written += 1
            if len(chunk) >= CHUNK:
                flush()
        if chunk:
            flush()
        return written

    def _write_documents(self, writer: PackWriter, folder: str, evidence: list[dict[str, Any]]) -> None:
        """The original evidence documents, streamed from storage beside their summaries."""
        from django.core.files.storage import default_storage

        seen = set()
        for item in evidence:
            name = item.get("document")
            if not name or item["id"] in seen:
                continue
            seen.add(item["id"])
            base = (item.get("filename") or name.rsplit("/", 1)[-1]).replace("/", "_")[:120]
            try:
                with default_storage.open(name, "rb") as handle:
                    writer.copy_from(f"{folder}/evidence/{item['id']}-{base}", handle)
            except FileNotFoundError:
                self.missing_documents.append(f"{folder}: evidence {item['id']} ({name})")

    # --- configuration drift -------------------------------------------------------------
    def _write_config_drift(self, writer: PackWriter) -> dict[str, int]:
        scope = self.params["scope"]
        start = end = None
        if scope in ("service_period", "control_period"):
            start, end = period_bounds(self.params)
        findings = sources.drift_findings(scope=scope, start=start, end=end, service=self.params.get("service"),
                                          change=self.params.get("change"))
        listing = CsvSpool(DRIFT_HEADER)
        open_at_end = 0
        for f in findings:
            still_open = f["resolved_at"] is None or (end is not None and f["resolved_at"] >= end)
            open_at_end += still_open
            listing.writerow([f["id"], f["service__slug"], f["environment__slug"],
                              "yes" if f["environment__is_production"] else "no", f["key"], f["kind"], f["expected"],
                              f["observed"], "yes" if f["must_match"] else "no", "yes" if f["secret"] else "no",
                              sources.json_value(f["first_seen"]), sources.json_value(f["last_seen"]),
                              f["deployment_id"], f["status"], f["resolution"], sources.json_value(f["resolved_at"]),
                              f["resolved_by__username"], f["resolving_change__number"]])
        writer.copy_from("listings/config_drift.csv", listing.file)
        writer.write_json("config/drift_findings.json", findings)
        model = sources.label(sources.drift_model())
        events = self._events_for({(model, str(f["id"])): 0 for f in findings}).get(0, []) if findings else []
        self._write_events(writer, "config/drift_audit_events.jsonl", events)
        return {"config_drift_findings": len(findings), "config_drift_open_at_period_end": open_at_end
                if end is not None else sum(1 for f in findings if f["status"] == "open")}

    # --- audit events and the chain -----------------------------------------------------
    def _events_for(self, keys: dict[tuple[str, str], int]) -> dict[int, list[dict[str, Any]]]:
        """Audit events about any of `keys` ((object_type, object_id) -> owner id), by owner."""
        by_type: dict[str, list[str]] = {}
        for object_type, object_id in keys:
            by_type.setdefault(object_type, []).append(object_id)
        grouped: dict[int, list[dict[str, Any]]] = {}
        for object_type, object_ids in sorted(by_type.items()):
            qs = (AuditEvent.objects.filter(object_type=object_type, object_id__in=object_ids)
                  .order_by("seq").values(*_EVENT_FIELDS))
            for values in qs:
                owner = keys[(object_type, values["object_id"])]
                grouped.setdefault(owner, []).append(_event_line(values))
        for rows in grouped.values():
            rows.sort(key=lambda e: e["seq"])
        return grouped

    def _write_events(self, writer: PackWriter, path: str, events: list[dict[str, Any]]) -> None:
        writer.write_jsonl(path, events)
        self.event_files.append(path)
        self.events_included += len(events)
        if events:
            low, high = events[0]["seq"], events[-1]["seq"]
            self.min_seq = low if self.min_seq is None else min(self.min_seq, low)
            self.max_seq = high if self.max_seq is None else max(self.max_seq, high)

    def _write_chain(self, writer: PackWriter) -> dict[str, Any]:
        if self.min_seq is None:
            checkpoint = {"head_seq": None, "head_hash": None, "start_seq": None, "start_prev_hash": None,
                          "covered_events": 0}
            writer.write_json("audit/checkpoint.json", checkpoint, indent=True)
            writer.write_bytes("audit/chain.jsonl", b"")
            return checkpoint
        start = AuditEvent.objects.filter(seq=self.min_seq).values_list("prev_hash", flat=True).first() or GENESIS_HASH
        head_hash = AuditEvent.objects.filter(seq=self.max_seq).values_list("hash", flat=True).first()
        checkpoint = {"head_seq": self.max_seq, "head_hash": head_hash, "start_seq": self.min_seq,
                      "start_prev_hash": start, "covered_events": self.events_included}
        links = (AuditEvent.objects.filter(seq__gte=self.min_seq, seq__lte=self.max_seq).order_by("seq")
                 .values_list("seq", "prev_hash", "hash"))
        writer.write_jsonl("audit/chain.jsonl", (list(link) for link in links.iterator(chunk_size=5000)))
        writer.write_json("audit/checkpoint.json", checkpoint, indent=True)
        return checkpoint


def portal_chain_head() -> dict[str, Any]:
    seq = AuditEvent.objects.aggregate(head=Max("seq"))["head"]
    hash_ = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first() if seq else None
    return {"seq": seq, "hash": hash_}
