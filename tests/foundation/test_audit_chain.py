"""The audit log: one hash chain, append-only at the database, verifiable."""

import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.audit.chain import event_payload, link_hash
from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.audit.services import PendingEvent, audit_event_record, audit_events_record_many
from apps.audit.verification import verify_chain


@pytest.mark.django_db
def test_events_form_a_chain_from_genesis(requester):
    first = audit_event_record(action="test.one", actor=requester, details={"n": 1})
    second = audit_event_record(action="test.two", actor=requester, details={"n": 2.0, "when": "x"})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(seq=2)
    payload = event_payload(
        seq=2, created_at=stored.created_at, actor_id=requester.pk, actor_type="user", actor_label="rita",
        action="test.two", object_type="", object_id="", object_repr="", request_id="", ip="",
        details={"n": 2, "when": "x"},
    )
    assert link_hash(first.hash, payload) == stored.hash
    assert verify_chain().ok


@pytest.mark.django_db
def test_an_event_rolls_back_with_the_change_it_records(requester):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_event_record(action="test.doomed", actor=requester)
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_batch_append_links_every_event(requester, service):
    rows = audit_events_record_many(
        events=[PendingEvent(action="test.bulk", target=service, details={"i": i}) for i in range(5)], actor=requester
    )
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].object_type == "catalog.service" and rows[0].object_id == str(service.pk)
    report = verify_chain()
    assert report.ok and report.checked == 5 and report.head_hash == rows[-1].hash


@pytest.mark.django_db
def test_the_database_rejects_update_of_an_audit_event(requester):
    audit_event_record(action="test.one", actor=requester)
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(action="test.forged")
    assert AuditEvent.objects.get(seq=1).action == "test.one"


@pytest.mark.django_db
def test_the_database_rejects_delete_of_an_audit_event(requester):
    audit_event_record(action="test.one", actor=requester)
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        AuditEvent.objects.filter(seq=1).delete()
    assert AuditEvent.objects.filter(seq=1).exists()


@pytest.mark.django_db
def test_history_tables_reject_update_and_delete(service):
    service.name = "Payments API v2"
    service.save()
    history = service.history.model
    assert history.objects.filter(id=service.pk).count() == 2
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        history.objects.filter(id=service.pk).update(name="rewritten")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        history.objects.filter(id=service.pk).delete()
    assert set(history.objects.filter(id=service.pk).values_list("name", flat=True)) == {"Payments API", "Payments API v2"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_rejects_truncate_of_the_audit_table(requester):
    audit_event_record(action="test.one", actor=requester)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


def _tamper(sql: str, params: list) -> None:
    """Change a row out of band, the way someone with database access would: triggers off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks first
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        else:
            cursor.execute("INSERT INTO rp_audit_unlock (flag) VALUES (1)")
            cursor.execute(sql, params)
            cursor.execute("DELETE FROM rp_audit_unlock")


@pytest.fixture
def ten_events(requester):
    audit_events_record_many(events=[PendingEvent(action="test.e", details={"i": i}) for i in range(10)], actor=requester)


@pytest.mark.django_db
def test_audit_verify_passes_on_an_intact_chain(ten_events, capsys):
    call_command("audit_verify")
    assert "intact: 10 events" in capsys.readouterr().out


@pytest.mark.django_db
def test_audit_verify_names_an_altered_row(ten_events, capsys):
    _tamper("UPDATE audit_auditevent SET details = %s WHERE seq = 4", ['{"i": 99}'])
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify")
    assert exc.value.code == 1
    assert "sequence 4" in capsys.readouterr().err


@pytest.mark.django_db
def test_audit_verify_names_a_removed_row(ten_events, capsys):
    _tamper("DELETE FROM audit_auditevent WHERE seq = 6", [])
    with pytest.raises(SystemExit) as exc:
        call_command("audit_verify")
    assert exc.value.code == 1
    assert "sequence 6 is missing" in capsys.readouterr().err


@pytest.mark.django_db
def test_audit_verify_names_a_row_inserted_out_of_band(ten_events, capsys):
    last = AuditEvent.objects.get(seq=10)
    forged = AuditEvent(seq=11, created_at=last.created_at, actor_type="user", actor_label="mallory",
                        action="test.forged", prev_hash=last.hash, hash="f" * 64)
    forged.save()
    with pytest.raises(SystemExit):
        call_command("audit_verify")
    assert "sequence 11" in capsys.readouterr().err


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_or_gap_the_chain():
    """8 threads × 200 events on PostgreSQL → one unbroken chain, no gaps."""
    from django.db import connections

    from apps.audit.actor import Actor

    threads_n, per_thread = 8, 200
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            actor = Actor(user=None, kind="task", label=f"task:writer-{n}")
            for i in range(per_thread):
                with transaction.atomic():
                    audit_event_record(action="test.concurrent", actor=actor, details={"thread": n, "i": i})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads_n * per_thread + 1))
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == threads_n * per_thread
    assert AuditEvent.objects.values("prev_hash").distinct().count() == threads_n * per_thread


@pytest.mark.postgres
@pytest.mark.django_db
def test_fast_canonical_matches_chain(requester, service):
    """The verifier's PostgreSQL fast path builds exactly the bytes apps.audit.chain hashes."""
    from apps.audit.chain import canonical_json
    from apps.audit.verification import _PG_SELECT, fast_canonical

    tricky = {"quote": 'say "hi"', "unicode": "Zürich ✓", "nested": {"b": [1, 2.5, None, True], "a": "\\n"},
              "big": 10**12, "float": 0.1}
    audit_event_record(action="test.tricky", target=service, actor=requester, details=tricky)
    audit_event_record(action="test.system", object_type="x", object_id="é", object_repr="line\nbreak")
    for event in AuditEvent.objects.order_by("seq"):
        with connection.cursor() as cursor:
            cursor.execute(_PG_SELECT, [event.seq, event.seq, 1])
            row = cursor.fetchone()
        expected = canonical_json(event_payload(
            seq=event.seq, created_at=event.created_at, actor_id=event.actor_id, actor_type=event.actor_type,
            actor_label=event.actor_label, action=event.action, object_type=event.object_type,
            object_id=event.object_id, object_repr=event.object_repr, request_id=event.request_id, ip=event.ip,
            details=event.details))
        assert fast_canonical(*row[:12]) == expected
    assert verify_chain().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_verification_checks_every_range_and_seam(monkeypatch):
    from apps.audit import verification

    monkeypatch.setattr(verification, "PARALLEL_THRESHOLD", 10)
    audit_events_record_many(events=[PendingEvent(action="test.p", details={"i": i}) for i in range(90)], actor=None)
    report = verification.verify_chain(workers=3)
    assert report.ok and report.checked == 90 and report.head_seq == 90
    _tamper("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 61", [])
    report = verification.verify_chain(workers=3)
    assert not report.ok and report.broken_seq == 61 and "altered" in report.reason
    _tamper("DELETE FROM audit_auditevent WHERE seq = 31", [])
    report = verification.verify_chain(workers=3)
    assert not report.ok and report.broken_seq == 31
