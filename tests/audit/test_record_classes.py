"""Every record class with a retention policy is archived and purged the same way: the archive
holds each record with its history and what belongs to it; a purge is refused inside retention
and under a legal hold (audited); after retention the record, what belongs to it, its history
and its stored files go, and a tombstone names them. The audit log is never purged record by
record, and its policy says so."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages

from apps.audit.actor import Actor
from apps.audit.archives import archive_closed_records, archive_purge
from apps.audit.models import Archive, ArchivedRecord, AuditEvent, RecordClass, RetentionPolicy
from apps.audit.record_classes import SPECS
from apps.audit.retention import legal_hold_place, records_purge
from releaseportal.errors import Conflict

pytestmark = pytest.mark.django_db

CLOSED = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
ARCHIVE_NOW = dt.datetime(2029, 3, 15, tzinfo=dt.UTC)  # horizon (730 days) falls in March 2027
INSIDE_RETENTION = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
AFTER_RETENTION = dt.datetime(2034, 6, 1, tzinfo=dt.UTC)  # seven years after January 2026


def _task():
    return Actor.for_task("test")


@pytest.fixture
def records_admin(roles_ready):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(username="rhea", roles=("auditor",))
    user.user_permissions.add(Permission.objects.get(codename="manage_retention"))
    return user


# --- one closed record of each class, with what belongs to it ----------------------------------

def _change(ctx):
    from apps.change_types.models import ApprovalStage
    from apps.changes.models import Approval

    change = ctx["make_change"](title="Archived change", state="closed", closed_at=CLOSED,
                                approved_at=CLOSED - dt.timedelta(days=2))
    stage = (ApprovalStage.objects.filter(change_type=change.change_type).order_by("order").first()
             or ApprovalStage.objects.create(change_type=change.change_type, order=1, name="Peer review",
                                             approver_group="approver"))
    Approval.objects.create(change=change, stage=stage, stage_name="Peer review", approver=ctx["approver"],
                            decision="approve", comment="ok", content_hash="c" * 64, decided_at=CLOSED)
    return change, {"approvals": 1}, []


def _deployment(ctx):
    from apps.delivery.models import DeploymentCommit

    dep = ctx["make_deployment"](started_at=CLOSED - dt.timedelta(minutes=10))
    DeploymentCommit.objects.create(deployment=dep, sha="a" * 40, message="fix",
                                    authored_at=CLOSED - dt.timedelta(days=1))
    return dep, {"commits": 1}, []


def _gate_decision(ctx):
    from apps.delivery.models import GateDecision

    gate = GateDecision.objects.create(service=ctx["service"], environment=ctx["environments"]["prod"],
                                       decision="deny", reasons=[{"code": "no_change", "message": "x"}],
                                       created_at=CLOSED)
    return gate, {}, []


def _incident(ctx):
    from apps.incidents.models import ActionItem, Incident, IncidentAttachment, IncidentUpdate, Review

    incident = Incident.objects.create(service=ctx["service"], title="Checkout down", severity="sev2",
                                       status="closed", started_at=CLOSED - dt.timedelta(hours=3), resolved_at=CLOSED)
    IncidentUpdate.objects.create(incident=incident, kind="note", message="rolled back", created_at=CLOSED)
    content = b"log lines\n"
    attachment = IncidentAttachment(incident=incident, kind="log", filename="app.log", size=len(content),
                                    sha256=hashlib.sha256(content).hexdigest())
    attachment.file.save("app.log", ContentFile(content), save=False)
    attachment.save()
    review = Review.objects.create(incident=incident, status="draft",
                                   due_date=dt.date(2026, 1, 20))
    ActionItem.objects.create(review=review, title="Add an alert", type="monitoring", owner=ctx["approver"],
                              due_date=dt.date(2026, 2, 1))
    return incident, {"updates": 1, "attachments": 1, "review": 1, "action_items": 1}, [attachment.file.name]


def _access_review(ctx):
    from apps.access_reviews.models import AccessGrant, CampaignReport, ReviewCampaign, ReviewItem

    campaign = ReviewCampaign.objects.create(name="2025 Q4 review", status="closed", due_date=dt.date(2026, 1, 5),
                                             opened_at=CLOSED - dt.timedelta(days=30), closed_at=CLOSED,
                                             scope_team=ctx["service"].owner_team, scope="team")
    grant = AccessGrant.objects.create(user=ctx["approver"], privilege="deployer", service=ctx["service"],
                                       environment=ctx["environments"]["prod"], justification="on call")
    ReviewItem.objects.create(campaign=campaign, grant=grant, reviewer=ctx["approver"], decision="keep",
                              decided_at=CLOSED)
    path = storages["archive"].save("access-reviews/report.csv", ContentFile(b"grant,decision\n"))
    CampaignReport.objects.create(campaign=campaign, format="csv", path=path, sha256="d" * 64, size=15)
    return campaign, {"items": 1, "reports": 1}, [("archive", path)]


def _report(ctx):
    from apps.reports.models import ReportDelivery, ReportRun

    pdf = default_storage.save("reports/dora-2026-01.pdf", ContentFile(b"%PDF-1.7 report"))
    run = ReportRun.objects.create(period="2025-12", scope_type="organisation", scope_key="organisation",
                                   scope_name="Organisation", version=1, pdf=pdf, csv_zip="", pdf_sha256="e" * 64,
                                   csv_sha256="", generated_by_label="beat", generated_at=CLOSED, data_as_of=CLOSED)
    ReportDelivery.objects.create(run=run, recipients=["frank@example.test"], sent_at=CLOSED)
    return run, {"deliveries": 1}, [pdf]


def _evidence_document(ctx):
    from apps.delivery.models import Artifact, Evidence

    artifact = Artifact.objects.create(service=ctx["service"], version="9.9.9", digest="sha256:" + "f" * 64,
                                       git_sha="b" * 40, format="oci_image",
                                       created_at=CLOSED - dt.timedelta(days=30))
    evidence = Evidence(artifact=artifact, kind="junit", filename="junit.xml", sha256="a" * 64, size=12,
                        created_at=CLOSED - dt.timedelta(days=30))  # recorded in December…
    evidence.document.save("junit.xml", ContentFile(b"<testsuite/>"), save=False)
    evidence.save()
    # …and in effect until its artifact's last deployment finished, in January.
    ctx["make_deployment"](started_at=CLOSED - dt.timedelta(minutes=10), artifact=artifact, version="9.9.9")
    return evidence, {}, [evidence.document.name]


def _artifact(ctx):
    from apps.delivery.models import Artifact

    # Never deployed: in effect from its registration, in January.
    artifact = Artifact.objects.create(service=ctx["service"], version="8.8.8", digest="sha256:" + "8" * 64,
                                       git_sha="c" * 40, format="oci_image", created_at=CLOSED)
    return artifact, {}, []


MAKERS = {
    RecordClass.CHANGE_REQUEST: _change,
    RecordClass.DEPLOYMENT: _deployment,
    RecordClass.GATE_DECISION: _gate_decision,
    RecordClass.INCIDENT: _incident,
    RecordClass.ACCESS_REVIEW: _access_review,
    RecordClass.REPORT: _report,
    RecordClass.EVIDENCE_DOCUMENT: _evidence_document,
    RecordClass.ARTIFACT: _artifact,
}


def test_every_record_class_with_a_policy_is_covered_here():
    assert set(MAKERS) | {RecordClass.AUDIT_EVENT} == set(RecordClass.values) == set(SPECS)
    assert set(RetentionPolicy.objects.values_list("record_class", flat=True)) <= set(SPECS)


@pytest.fixture
def make_record(make_change, make_deployment, service, environments, approver):
    ctx = {"make_change": make_change, "make_deployment": make_deployment, "service": service,
           "environments": environments, "approver": approver}

    def make(record_class):
        return MAKERS[record_class](ctx)

    return make


def _file_exists(item) -> bool:
    if isinstance(item, tuple):
        return storages[item[0]].exists(item[1])
    return default_storage.exists(item)


def _lines(archive) -> list[dict]:
    raw = storages["archive"].open(archive.path, "rb").read()
    assert hashlib.sha256(raw).hexdigest() == archive.sha256 and len(raw) == archive.size
    return [json.loads(line) for line in gzip.decompress(raw).splitlines()]


@pytest.mark.parametrize("record_class", list(MAKERS))
def test_each_class_is_archived_with_its_history_and_what_belongs_to_it(record_class, make_record):
    record, related, _ = make_record(record_class)
    archive_closed_records(actor=_task(), now=ARCHIVE_NOW)
    archive = Archive.objects.get(record_class=record_class)
    assert archive.month == dt.date(2026, 1, 1)
    line = next(line for line in _lines(archive) if line["id"] == record.pk)
    assert line["record"]["id"] == record.pk
    if hasattr(type(record), "history"):
        assert line["history"] and line["history"][0]["history_type"] == "+"
    for name, count in related.items():
        assert len(line["related"][name]) == count, name
    indexed = ArchivedRecord.objects.get(record_class=record_class, object_id=str(record.pk))
    assert indexed.archive == archive
    assert AuditEvent.objects.filter(action="archive.written", object_id=str(archive.pk)).exists()


@pytest.mark.parametrize("record_class", list(MAKERS))
def test_each_class_purge_is_refused_inside_retention_and_audited(record_class, make_record, records_admin):
    record, _, files = make_record(record_class)
    with pytest.raises(Conflict, match="inside retention until 2033"):
        records_purge(record_class=record_class, ids=[record.pk], actor=records_admin, reason="tidy",
                      now=INSIDE_RETENTION)
    refused = AuditEvent.objects.get(action="retention.purge_refused")
    assert refused.details["record_class"] == record_class and refused.actor_label == "rhea"
    assert type(record).objects.filter(pk=record.pk).exists()
    assert all(_file_exists(f) for f in files)


@pytest.mark.parametrize("record_class", list(MAKERS))
def test_each_class_purge_is_refused_under_a_legal_hold(record_class, make_record, records_admin):
    record, _, _ = make_record(record_class)
    hold = legal_hold_place(actor=records_admin, title="Case 77", reason="Subpoena",
                            records=[f"{record_class}:{record.pk}"])
    with pytest.raises(Conflict, match=f"under legal hold #{hold.pk} 'Case 77'"):
        records_purge(record_class=record_class, ids=[record.pk], actor=records_admin, reason="tidy",
                      now=AFTER_RETENTION)
    assert type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("record_class", list(MAKERS))
def test_each_class_archive_is_purged_after_retention_with_everything_it_holds(
        record_class, make_record, records_admin, django_capture_on_commit_callbacks):
    record, related, files = make_record(record_class)
    archive_closed_records(actor=_task(), now=ARCHIVE_NOW)
    archive = Archive.objects.get(record_class=record_class)
    spec = SPECS[record_class]
    related_ids = {rel.name: list(rel.model_class().objects.filter(**{rel.owner: record.pk}).values_list("pk", flat=True))
                   for rel in spec.related}
    assert {k: len(v) for k, v in related_ids.items() if v} == related
    with django_capture_on_commit_callbacks(execute=True):
        archive_purge(archive=archive, actor=records_admin, reason="retention ended", now=AFTER_RETENTION)
    model = type(record)
    assert not model.objects.filter(pk=record.pk).exists()
    if hasattr(model, "history"):
        assert not model.history.filter(id=record.pk).exists()
    for rel in spec.related:
        rel_model = rel.model_class()
        assert not rel_model.objects.filter(**{rel.owner: record.pk}).exists(), rel.name
        if hasattr(rel_model, "history"):
            assert not rel_model.history.filter(id__in=related_ids[rel.name]).exists(), rel.name
    assert not any(_file_exists(f) for f in files)
    archive.refresh_from_db()
    assert archive.purged_at is not None and not archive.records.exists()
    assert not storages["archive"].exists(archive.path)
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.details["record_class"] == record_class
    assert tombstone.details["references"] == [str(getattr(record, spec.reference))]
    assert tombstone.details["archive_sha256"] == archive.sha256 and tombstone.details["reason"] == "retention ended"
    assert tombstone.details["files_deleted"] == len(files)


def test_a_record_still_needed_by_another_is_refused_naming_it(make_change, make_deployment, records_admin):
    change = make_change(title="Deployed", state="closed", closed_at=CLOSED)
    dep = make_deployment(change=change, started_at=CLOSED)
    with pytest.raises(Conflict, match=f"still referenced by other records that must go first: deployment #{dep.pk}"):
        records_purge(record_class="change_request", ids=[change.pk], actor=records_admin, reason="x",
                      now=AFTER_RETENTION)
    assert type(change).objects.filter(pk=change.pk).exists()
    assert AuditEvent.objects.filter(action="retention.purge_refused").exists()


def test_audit_events_are_archived_but_never_purged_record_by_record(make_change, records_admin):
    make_change(title="Something audited")
    first = AuditEvent.objects.order_by("seq").first()
    with pytest.raises(Conflict, match="never purged record by record: the hash chain needs every link"):
        records_purge(record_class="audit_event", ids=[first.pk], actor=records_admin, reason="x",
                      now=dt.datetime.now(dt.UTC) + dt.timedelta(days=9 * 366))
    assert AuditEvent.objects.filter(pk=first.pk).exists()
    refused = AuditEvent.objects.get(action="retention.purge_refused")
    assert "hash chain" in refused.details["reasons"][0]

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
    archive_closed_records(actor=_task(), now=later)
    archive = Archive.objects.get(record_class="audit_event")
    line = next(line for line in _lines(archive) if line["id"] == first.pk)
    assert line["record"]["hash"] == first.hash and line["record"]["prev_hash"] == first.prev_hash
    with pytest.raises(Conflict, match="never purged record by record"):
        archive_purge(archive=archive, actor=records_admin, reason="x", now=later + dt.timedelta(days=9 * 366))
    assert storages["archive"].exists(archive.path) and AuditEvent.objects.filter(pk=first.pk).exists()


def test_the_audit_event_policy_says_it_is_never_purged_record_by_record():
    for policy in RetentionPolicy.objects.filter(record_class="audit_event"):
        assert "never purged record by record" in policy.description.lower()


def test_a_hipaa_only_record_is_kept_six_years_judged_from_its_archived_scope(make_change, team, records_admin):
    from tests.factories import ServiceFactory

    clinic = ServiceFactory(slug="clinic-portal", owner_team=team, compliance_scopes=["hipaa"])
    change = make_change(title="Clinic change", state="closed", closed_at=CLOSED, svc=clinic)
    archive_closed_records(actor=_task(), now=ARCHIVE_NOW)
    archive = Archive.objects.get(record_class="change_request")
    assert ArchivedRecord.objects.get(record_class="change_request", object_id=str(change.pk)).data["hold_scopes"] == ["hipaa"]
    with pytest.raises(Conflict, match="inside retention until 2032-01-10 \\(6 years"):
        archive_purge(archive=archive, actor=records_admin, reason="x", now=dt.datetime(2031, 6, 1, tzinfo=dt.UTC))
    assert archive_purge(archive=archive, actor=records_admin, reason="retention ended",
                         now=dt.datetime(2032, 2, 1, tzinfo=dt.UTC)) == 1


def test_the_retention_page_says_which_class_is_never_purged_and_why(client, auditor, django_assert_max_num_queries):
    client.force_login(auditor)
    with django_assert_max_num_queries(8):
        html = client.get("/audit/retention/").content.decode()
    audit_policy = RetentionPolicy.objects.get(record_class="audit_event", compliance_scope="")
    change_policy = RetentionPolicy.objects.get(record_class="change_request", compliance_scope="")
    assert f'id="never-purged-{audit_policy.pk}"' in html and "the hash chain needs every link" in html
    assert f'id="never-purged-{change_policy.pk}"' not in html


def test_outsiders_get_nothing_from_the_retention_page(client, outsider):
    client.force_login(outsider)
    response = client.get("/audit/retention/")
    assert response.status_code in (403, 404) and b"hash chain" not in response.content


def test_a_service_hold_keeps_that_services_stored_reports_but_not_the_organisations(service, records_admin):
    from apps.reports.models import ReportRun

    def report(scope_type, slug, key):
        return ReportRun.objects.create(period="2025-12", scope_type=scope_type, scope_slug=slug, scope_key=key,
                                        scope_name=key, version=1, pdf="", csv_zip="", pdf_sha256="", csv_sha256="",
                                        generated_by_label="beat", generated_at=CLOSED, data_as_of=CLOSED)

    of_service = report("service", service.slug, f"service:{service.slug}")
    of_team = report("team", service.owner_team.slug, f"team:{service.owner_team.slug}")
    of_org = report("organisation", "", "organisation")
    hold = legal_hold_place(actor=records_admin, title="Payments case", reason="Subpoena", service=service)
    with pytest.raises(Conflict, match=f"under legal hold #{hold.pk}"):
        records_purge(record_class="report", ids=[of_service.pk], actor=records_admin, reason="x", now=AFTER_RETENTION)
    legal_hold_place(actor=records_admin, title="Team case", reason="Inquiry", team=service.owner_team)
    with pytest.raises(Conflict, match="under legal hold"):
        records_purge(record_class="report", ids=[of_team.pk], actor=records_admin, reason="x", now=AFTER_RETENTION)
    assert records_purge(record_class="report", ids=[of_org.pk], actor=records_admin, reason="retention ended",
                         now=AFTER_RETENTION) == 1


def test_service_and_team_holds_keep_the_access_reviews_that_covered_them(service, other_team, records_admin):
    from apps.access_reviews.models import ReviewCampaign

    def campaign(name, team=None):
        return ReviewCampaign.objects.create(name=name, status="closed", due_date=dt.date(2026, 1, 5), closed_at=CLOSED,
                                             scope="team" if team else "all_production", scope_team=team)

    everything = campaign("All production 2025 Q4")
    own_team = campaign("Payments team 2025 Q4", service.owner_team)
    elsewhere = campaign("Other team 2025 Q4", other_team)
    legal_hold_place(actor=records_admin, title="Payments case", reason="Subpoena", service=service)
    for held in (everything, own_team):
        with pytest.raises(Conflict, match="under legal hold"):
            records_purge(record_class="access_review", ids=[held.pk], actor=records_admin, reason="x",
                          now=AFTER_RETENTION)
    assert records_purge(record_class="access_review", ids=[elsewhere.pk], actor=records_admin,
                         reason="retention ended", now=AFTER_RETENTION) == 1
