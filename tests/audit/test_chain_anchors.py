"""The chain's head anchored outside the database, and checkpoints that prove themselves.

Deleting the newest events, rewriting the chain from some point on, or hiding an altered event
behind a checkpoint of one's own: each passes the hash chain alone and fails `audit_verify`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.audit import anchors
from apps.audit.models import AuditEvent, ChainCheckpoint
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many
from apps.audit.signing import current_key
from apps.audit.verification import audit_trail_verify, verify_chain

from .conftest import CONTROL_JULY
from .packs import generate

pytestmark = pytest.mark.django_db


def _tamper(sql: str, params: list | None = None) -> None:
    """Change the audit table out of band, the way someone with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params or [])
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        else:
            cursor.execute("INSERT INTO rp_audit_unlock (flag) VALUES (1)")
            cursor.execute(sql, params or [])
            cursor.execute("DELETE FROM rp_audit_unlock")


def _audit_verify(capsys) -> tuple[int, str, str]:
    try:
        call_command("audit_verify")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def ten_events(requester):
    return audit_events_record_many(events=[PendingEvent(action="test.e", details={"i": i}) for i in range(10)],
                                    actor=requester)


# --- checkpoints ---------------------------------------------------------------------------

def test_the_database_refuses_to_alter_or_delete_a_checkpoint(ten_events):
    checkpoint = ChainCheckpoint.objects.create(seq=3, hash=ten_events[2].hash, created_at=ten_events[2].created_at,
                                                reason="r")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        ChainCheckpoint.objects.filter(pk=checkpoint.pk).update(seq=7, hash=ten_events[6].hash)
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        ChainCheckpoint.objects.filter(pk=checkpoint.pk).delete()
    assert ChainCheckpoint.objects.get(pk=checkpoint.pk).seq == 3


def test_an_altered_event_behind_a_checkpoint_of_ones_own_is_detected(ten_events, capsys):
    _tamper("UPDATE audit_auditevent SET details = %s WHERE seq = 5", ['{"i":99}'])
    seventh = AuditEvent.objects.get(seq=7)
    ChainCheckpoint.objects.create(seq=7, hash=seventh.hash, created_at=seventh.created_at, reason="nothing to see")
    code, _out, err = _audit_verify(capsys)
    assert code == 1
    assert "BROKEN at sequence 5: sequence 5 was altered" in err
    assert "checkpoint #7 stands for purged events that are still present" in err


def test_deleting_the_altered_prefix_behind_a_forged_checkpoint_is_detected(ten_events, capsys):
    """The chain from the forged checkpoint on is intact; nothing vouches for the checkpoint."""
    _tamper("UPDATE audit_auditevent SET details = %s WHERE seq = 5", ['{"i":99}'])
    seventh = AuditEvent.objects.get(seq=7)
    _tamper("DELETE FROM audit_auditevent WHERE seq <= 7")
    ChainCheckpoint.objects.create(seq=7, hash=seventh.hash, created_at=seventh.created_at, reason="retention")
    assert verify_chain(start_after=7, start_hash=seventh.hash).ok  # the links alone would pass
    code, _out, err = _audit_verify(capsys)
    assert code == 1
    assert "checkpoint #7 has no signed purge anchor" in err


def test_a_purge_anchor_signed_by_another_key_does_not_vouch_for_a_checkpoint(ten_events):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seventh = AuditEvent.objects.get(seq=7)
    _tamper("DELETE FROM audit_auditevent WHERE seq <= 7")
    ChainCheckpoint.objects.create(seq=7, hash=seventh.hash, created_at=seventh.created_at, reason="retention")
    forged = anchors.Anchor(kind=anchors.PURGE, seq=7, hash=seventh.hash, event_at="", anchored_at="x",
                            reason="purge", key_id=current_key().key_id, signature="")
    import base64

    from apps.audit.chain import canonical_json

    signature = base64.b64encode(Ed25519PrivateKey.generate().sign(canonical_json(forged.signed_fields()))).decode()
    anchors.storage().save(f"{anchors.FOLDER}/purge/{7:016d}-forged.json", ContentFile(json.dumps(
        {**forged.signed_fields(), "signature": signature}).encode()))
    report = audit_trail_verify()
    assert not report.ok
    assert any("checkpoint #7 has no signed purge anchor" in p for p in report.problems)


def test_a_missing_prefix_with_no_checkpoint_is_reported(ten_events):
    _tamper("DELETE FROM audit_auditevent WHERE seq <= 2")
    report = audit_trail_verify()
    assert report.chain.ok and not report.ok
    assert report.problems == ["sequences 1 to 2 are missing and no purge checkpoint stands for them"]


# --- the head anchored outside the database ---------------------------------------------------

def test_deleting_the_newest_events_is_detected_against_the_anchor(ten_events, capsys):
    anchor = anchors.chain_anchor_write(reason="test")
    assert (anchor.seq, anchor.hash) == (10, ten_events[-1].hash)
    code, out, _err = _audit_verify(capsys)
    assert code == 0 and "anchored through #10" in out
    _tamper("DELETE FROM audit_auditevent WHERE seq >= 9")
    assert verify_chain().ok  # a shorter chain is still a valid chain…
    code, _out, err = _audit_verify(capsys)  # …but not the one that was anchored
    assert code == 1
    assert "truncated" in err and "sequences 9 to 10 were deleted" in err


def test_deleting_every_event_is_detected_against_the_anchor(ten_events):
    anchors.chain_anchor_write(reason="test")
    _tamper("DELETE FROM audit_auditevent")
    report = audit_trail_verify()
    assert not report.ok and "sequences 1 to 10 were deleted" in report.problems[0]


def test_a_chain_rewritten_after_an_anchor_is_detected(ten_events, requester):
    """Delete the newest events and append others in their place through the service: every
    link is valid, but the anchored sequence no longer holds the anchored event."""
    anchors.chain_anchor_write(reason="test")
    _tamper("DELETE FROM audit_auditevent WHERE seq >= 6")
    audit_events_record_many(events=[PendingEvent(action="test.rewritten") for _ in range(6)], actor=requester)
    report = audit_trail_verify()
    assert report.chain.ok and report.chain.head_seq == 11
    assert report.problems == [f"sequence 10 is not the event anchored at {report.anchor_at}: the chain was rewritten"]


def test_a_forged_head_anchor_is_reported_not_trusted(ten_events):
    good = anchors.chain_anchor_write(reason="test")
    body = json.loads(anchors.storage().open(good.name).read())
    body["seq"] = 12  # a newer head that never was, keeping the old signature
    anchors.storage().save(f"{anchors.FOLDER}/head/{12:016d}-forged.json", ContentFile(json.dumps(body).encode()))
    report = audit_trail_verify()
    assert not report.ok
    assert report.anchor_seq == 10  # the newest anchor that verifies is still used
    assert any("does not match its signature" in p for p in report.problems)


def test_an_anchor_is_signed_with_the_evidence_key_and_names_the_head(ten_events):
    anchor = anchors.chain_anchor_write(reason="test")
    body = json.loads(anchors.storage().open(anchor.name).read())
    assert body["format"] == anchors.FORMAT and body["kind"] == "head"
    assert body["seq"] == 10 and body["hash"] == ten_events[-1].hash and body["key_id"] == current_key().key_id
    read, problem = anchors.anchor_read(anchor.name)
    assert problem == "" and read == anchor


def test_the_beat_anchors_the_head_every_quarter_hour_when_it_moved(ten_events, requester):
    from apps.audit.tasks import anchor_chain_head
    from releaseportal.celery import collect_beat_schedule

    entry = collect_beat_schedule()["audit-anchor-chain-head"]
    assert entry["task"] == "apps.audit.tasks.anchor_chain_head"
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert anchor_chain_head.delay().get() == 10
    assert len(anchors.anchor_names(anchors.HEAD)) == 1
    assert anchor_chain_head.delay().get() is None  # the head did not move: nothing written
    assert len(anchors.anchor_names(anchors.HEAD)) == 1
    audit_event_record(action="test.more", actor=requester)
    assert anchor_chain_head.delay().get() == 11
    newest, problems = anchors.newest_valid_anchor(anchors.HEAD)
    assert problems == [] and newest.seq == 11 and newest.reason == "schedule"


def test_the_beat_on_an_empty_chain_writes_nothing(db):
    from apps.audit.tasks import anchor_chain_head

    assert anchor_chain_head.delay().get() is None
    assert anchors.anchor_names(anchors.HEAD) == []


def test_every_evidence_pack_anchors_the_head_it_was_generated_at(auditor, quarter_data,
                                                                  django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    generated = AuditEvent.objects.get(action="evidence_pack.generated", object_id=str(pack.pk))
    anchored = generated.details["chain_anchor"]
    newest, problems = anchors.newest_valid_anchor(anchors.HEAD)
    assert problems == [] and newest.name == anchored["file"]
    assert newest.reason == f"evidence pack {pack.pk}"
    # The head when generation began: the request, everything before it.
    requested = AuditEvent.objects.get(action="evidence_pack.requested", object_id=str(pack.pk))
    assert newest.seq == anchored["seq"] == requested.seq
    assert newest.hash == requested.hash
    assert audit_trail_verify().ok


# --- the sanctioned purge ------------------------------------------------------------------

def test_the_purge_refuses_to_launder_an_altered_chain(ten_events, requester):
    import datetime as dt

    from apps.audit.retention import audit_events_purge
    from releaseportal.errors import Conflict

    _tamper("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 3")
    with pytest.raises(Conflict, match="the audit chain does not verify: sequence 3"):
        audit_events_purge(actor=requester, reason="retention",
                           now=dt.datetime.now(dt.UTC) + dt.timedelta(days=20 * 366))
    assert AuditEvent.objects.filter(seq=1).exists() and not ChainCheckpoint.objects.exists()
    assert AuditEvent.objects.filter(action="retention.purge_refused").exists()


def test_events_left_under_no_anchor_too_long_are_reported(ten_events, requester, settings):
    settings.AUDIT_ANCHOR_MAX_AGE_MINUTES = 60
    later = ten_events[-1].created_at + dt.timedelta(minutes=61)
    assert audit_trail_verify(now=ten_events[-1].created_at + dt.timedelta(minutes=59)).ok
    report = audit_trail_verify(now=later)
    assert not report.ok and report.problems[0].startswith("not anchored: sequence 1 ")
    anchors.chain_anchor_write(reason="test")
    assert audit_trail_verify(now=later).ok


def test_removing_the_newest_anchor_with_the_events_it_covered_is_caught_once_the_rest_ages(ten_events, requester):
    """Events 1-5 anchored, 6-10 anchored later; 8-10 and their anchor go. 6 and 7 are left
    under no anchor, which the next check past the interval reports."""
    first = anchors.chain_anchor_write(reason="test", seq=5, hash_=ten_events[4].hash)
    newest = anchors.chain_anchor_write(reason="test")
    _tamper("DELETE FROM audit_auditevent WHERE seq >= 8")
    anchors.storage().delete(newest.name)
    report = audit_trail_verify(now=ten_events[-1].created_at + dt.timedelta(hours=2))
    assert report.chain.ok and report.anchor_seq == first.seq
    assert report.problems[0].startswith("not anchored: sequence 6 ")


def test_a_purge_under_the_serving_role_is_refused_and_audited(ten_events, requester, monkeypatch):
    """Where the connection's role may not unlock (PostgreSQL, not the maintenance role: see
    test_maintenance_role.py) the purge is refused before anything is touched, in the log."""
    from apps.audit import retention
    from releaseportal.errors import Conflict

    monkeypatch.setattr(retention, "may_unlock", lambda: False)
    with pytest.raises(Conflict, match="must run as the database role rp_audit_maintenance"):
        retention.audit_events_purge(actor=requester, reason="retention",
                                     now=ten_events[-1].created_at + dt.timedelta(days=20 * 366))
    assert AuditEvent.objects.filter(seq=1).exists() and not ChainCheckpoint.objects.exists()
    refused = AuditEvent.objects.get(action="retention.purge_refused")
    assert "rp_audit_maintenance" in refused.details["reasons"][0]


def test_a_purge_leaves_a_checkpoint_its_signed_purge_anchor_vouches_for(ten_events, requester):
    from apps.audit.retention import audit_events_purge

    checkpoint = audit_events_purge(actor=requester, reason="retention",
                                    now=ten_events[-1].created_at + dt.timedelta(days=20 * 366))
    assert checkpoint.seq == 9  # the head always stays
    anchor = anchors.purge_anchor_for(checkpoint.seq, checkpoint.hash)
    assert anchor is not None and anchor.kind == "purge" and anchor.hash == ten_events[8].hash
    tombstone = AuditEvent.objects.get(action="retention.purged")
    assert tombstone.details["purge_anchor"] == anchor.name
    report = audit_trail_verify()
    assert report.ok and report.start_seq == 9
    anchors.storage().delete(anchor.name)  # without its anchor the checkpoint proves nothing
    assert "checkpoint #9 has no signed purge anchor" in audit_trail_verify().problems[0]
