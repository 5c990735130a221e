"""The audit chain on SQLite: appended records verify, every kind of tampering done in the database itself is
found and named, a repeated change is kept once, a store that is down spools, and `python -m audit` says so."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from audit.records import GENESIS_HASH, AuditRecord, Change, record_hash
from audit.spool import Spool
from audit.store import AuditStore
from audit.trail import AuditTrail
from audit.verify import verify_chain
from foundation import REPO
from foundation.processes import free_port


def change(n: int, *, customer: str = "C1001", key: str | None = None, outcome: str = "succeeded") -> Change:
    return Change(
        customer_id=customer,
        channel="rest",
        conversation=f"conv{n:012d}",
        what="cancel_order",
        before={"order_id": str(10000 + n), "status": "paid"},
        after={"order_id": str(10000 + n), "status": "cancelled", "refunds": []},
        idempotency_key=key or f"key-{n}",
        outcome=outcome,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.sqlite"


@pytest.fixture
def store(db: Path):
    store = AuditStore(f"sqlite:///{db}")
    for n in range(1, 6):
        store.append(change(n))
    yield store
    store.dispose()


def verdict(store: AuditStore):
    return verify_chain(store.records(), store.head())


def sql(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as connection:
        for statement in statements:
            connection.execute(statement)


def test_appended_records_form_one_verified_chain(store):
    records = list(store.records())
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(records))
    assert all(r.hash == record_hash(r.seq, r.change, r.prev_hash) for r in records)
    result = verdict(store)
    assert result.intact and result.checked == 5 and result.last_hash == records[-1].hash


def test_the_hash_covers_prev_hash_and_every_field():
    first = change(1)
    base = record_hash(1, first, GENESIS_HASH)
    assert record_hash(1, first, "f" * 64) != base
    assert record_hash(2, first, GENESIS_HASH) != base
    edited = Change(**{**first.to_json(), "after": {"order_id": "10001", "status": "paid", "refunds": []}})
    assert record_hash(1, edited, GENESIS_HASH) != base


def test_an_edited_field_is_found(store, db):
    sql(db, "UPDATE audit_records SET outcome = 'refused' WHERE seq = 3")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (3, "edited")


def test_an_edit_inside_before_or_after_is_found(store, db):
    sql(db, """UPDATE audit_records SET "after" = replace("after", 'cancelled', 'paid') WHERE seq = 2""")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (2, "edited")


def test_a_deleted_record_is_found(store, db):
    sql(db, "DELETE FROM audit_records WHERE seq = 2")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (2, "deleted")


def test_a_record_deleted_from_the_end_is_found(store, db):
    sql(db, "DELETE FROM audit_records WHERE seq = 5")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (5, "deleted")


def test_two_swapped_records_are_found(store, db):
    sql(
        db,
        "UPDATE audit_records SET seq = -1 WHERE seq = 2",
        "UPDATE audit_records SET seq = 2 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = -1",
    )
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (2, "reordered")


def test_a_hash_recomputed_after_an_edit_is_found_by_the_next_record(store, db):
    target = next(r for r in store.records() if r.seq == 3)
    forged = Change(**{**target.change.to_json(), "customer_id": "C1002"})
    forged_hash = AuditRecord.chained(3, forged, target.prev_hash).hash
    sql(db, f"UPDATE audit_records SET customer_id = 'C1002', hash = '{forged_hash}' WHERE seq = 3")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (3, "forged_hash")


def test_a_recomputed_hash_of_the_last_record_is_found_by_the_head(store, db):
    last = next(r for r in store.records() if r.seq == 5)
    forged = Change(**{**last.change.to_json(), "outcome": "refused"})
    forged_hash = AuditRecord.chained(5, forged, last.prev_hash).hash
    sql(db, f"UPDATE audit_records SET outcome = 'refused', hash = '{forged_hash}' WHERE seq = 5")
    broken = verdict(store).broken
    assert broken is not None and (broken.seq, broken.kind) == (5, "forged_hash")


def test_the_same_change_repeated_is_recorded_once(store):
    again = change(9, key="key-3")  # the action run again for the same yes: same key, same outcome
    assert store.append(again) is None
    first = change(6)
    assert store.append(first) is not None and store.append(first) is None  # the same record (a spool replay)
    refused = change(7, key="key-3", outcome="refused")  # another outcome under the same key is another record
    assert store.append(refused) is not None
    assert [r.seq for r in store.records()] == [1, 2, 3, 4, 5, 6, 7] and verdict(store).intact


def test_a_store_that_is_down_spools_and_the_next_append_writes_the_spool_first(tmp_path, db):
    spool = Spool(tmp_path / "spool.jsonl")
    down = AuditTrail(AuditStore(f"postgresql+psycopg2://audit@127.0.0.1:{free_port()}/audit"), spool)
    assert not down.ready()
    assert down.record(change(1)) is None and down.record(change(2)) is None
    assert spool.pending() == 2

    waiting = audit_cli(db, "verify")
    assert waiting.returncode == 0 and "2 change(s) wait in the local spool" in waiting.stdout
    up = AuditTrail(AuditStore(f"sqlite:///{db}"), spool)
    assert up.ready()
    up.record(change(3))
    records = list(up.store.records())
    assert [r.change.idempotency_key for r in records] == ["key-1", "key-2", "key-3"]
    assert spool.pending() == 0 and verify_chain(records, up.store.head()).intact


def audit_cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"AUDIT_DATABASE_URL": f"sqlite:///{db}", "AUDIT_SPOOL_PATH": str(db.parent / "spool.jsonl")}
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_flush_appends_the_spool_and_sets_a_damaged_line_aside(tmp_path, db):
    spool = Spool(tmp_path / "spool.jsonl")
    spool.put(change(1))
    with spool.path.open("a") as damaged:
        damaged.write('{"what": "refund", "outco\n')
    spool.put(change(2))
    flushed = audit_cli(db, "flush")
    assert flushed.returncode == 0 and "2 spooled change(s) appended, 0 waiting" in flushed.stdout
    assert "intact: 2 records" in audit_cli(db, "verify").stdout
    assert (tmp_path / "spool.jsonl.rejected").read_text() == '{"what": "refund", "outco\n'


def test_the_command_line_lists_verifies_and_fails_on_tampering(store, db):
    store.append(change(6, customer="C1002"))
    listed = audit_cli(db, "list", "--customer", "C1002")
    assert listed.returncode == 0, listed.stderr
    assert "C1002" in listed.stdout and "C1001" not in listed.stdout and "key-6" in listed.stdout
    assert "cancel_order" in listed.stdout and '"status":"cancelled"' in listed.stdout
    assert "no audit records" in audit_cli(db, "list", "--since", "2999-01-01").stdout

    intact = audit_cli(db, "verify")
    assert intact.returncode == 0 and "intact: 6 records" in intact.stdout

    sql(db, "DELETE FROM audit_records WHERE seq = 4")
    broken = audit_cli(db, "verify")
    assert broken.returncode == 1
    assert "BROKEN at record 4: deleted" in broken.stdout
