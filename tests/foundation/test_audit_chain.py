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


TRICKY_DETAILS = {"quote": 'say "hi"', "unicode": "Zürich ✓", "nested": {"b": [1, 2.5, None, True], "a": "\\n"},
                  "control": "tab\tbell\x07", "big": 10**12, "float": 0.1, "key with spaces": {"Z": 1, "a": 2}}


@pytest.fixture
def python_rechecks(monkeypatch):
    """Records every link the PostgreSQL path hands to apps.audit.chain for a recomputation."""
    from apps.audit import verification

    calls: list[set[int]] = []
    original = verification._python_cleared

    def spy(seqs):
        calls.append(set(seqs))
        return original(seqs)

    monkeypatch.setattr(verification, "_python_cleared", spy)
    return calls


@pytest.mark.django_db
def test_details_are_stored_as_the_canonical_text_that_was_hashed(requester):
    from apps.audit.chain import canonical_details

    audit_event_record(action="test.tricky", actor=requester, details=TRICKY_DETAILS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT details FROM audit_auditevent WHERE seq = 1" if connection.vendor == "sqlite"
                       else "SELECT details::text FROM audit_auditevent WHERE seq = 1")
        stored = cursor.fetchone()[0]
    assert stored == canonical_details(normalise(TRICKY_DETAILS))
    assert AuditEvent.objects.get(seq=1).details == normalise(TRICKY_DETAILS)


def normalise(details):
    from apps.audit.chain import normalise_details

    return normalise_details(details)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_database_rehashes_every_link_itself(requester, service, python_rechecks):
    """The SQL path clears tricky rows on its own: no link falls back to Python."""
    audit_event_record(action="test.tricky", target=service, actor=requester, details=TRICKY_DETAILS)
    audit_event_record(action="test.system", object_type="x", object_id="é", object_repr='line\nbreak "q" \\')
    audit_event_record(action="test.empty", actor=requester)
    report = verify_chain()
    assert report.ok and report.checked == 3 and report.rechecked == 0
    assert python_rechecks == []


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_link_the_sql_cannot_clear_gets_the_python_verdict(requester, python_rechecks):
    """Details written before they were stored canonically (jsonb spacing) are re-checked in
    Python and pass; a real alteration still fails there."""
    audit_events_record_many(events=[PendingEvent(action="test.e", details={"b": 1, "a": [1, 2]}) for _ in range(3)],
                             actor=requester)
    _tamper("UPDATE audit_auditevent SET details = %s::json WHERE seq = 2", ['{"a": [1, 2], "b": 1}'])
    report = verify_chain()
    assert report.ok and report.checked == 3 and report.rechecked == 1
    assert python_rechecks == [{2}]
    _tamper("UPDATE audit_auditevent SET details = %s::json WHERE seq = 2", ['{"a": [1, 2], "b": 2}'])
    report = verify_chain()
    assert not report.ok and report.broken_seq == 2 and "altered" in report.reason


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_verification_checks_every_range_and_seam(monkeypatch):
    from apps.audit import verification

    monkeypatch.setattr(verification, "PARALLEL_THRESHOLD", 10)
    audit_events_record_many(events=[PendingEvent(action="test.p", details={"i": i}) for i in range(90)], actor=None)
    head = AuditEvent.objects.get(seq=90).hash
    for chunk_size in (None, 7):  # 7: every range is read in several chunks, seams in between
        report = verification.verify_chain(workers=3, chunk_size=chunk_size)
        assert report.ok and report.checked == 90 and report.head_seq == 90 and report.head_hash == head
    _tamper("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 61", [])
    for chunk_size in (None, 7):
        report = verification.verify_chain(workers=3, chunk_size=chunk_size)
        assert not report.ok and report.broken_seq == 61 and "altered" in report.reason
    _tamper("DELETE FROM audit_auditevent WHERE seq = 31", [])  # the first row of the second range
    report = verification.verify_chain(workers=3)
    assert not report.ok and report.broken_seq == 31 and "missing" in report.reason
    _tamper("DELETE FROM audit_auditevent WHERE seq = 15", [])  # the first row of a chunk of 7
    report = verification.verify_chain(workers=3, chunk_size=7)
    assert not report.ok and report.broken_seq == 15 and "missing" in report.reason
    _tamper("DELETE FROM audit_auditevent WHERE seq = 1", [])
    report = verification.verify_chain(workers=3)
    assert not report.ok and report.broken_seq == 1 and "missing" in report.reason
