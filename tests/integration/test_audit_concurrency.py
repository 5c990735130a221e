"""Two processes appending at once keep one chain (no number or `prev_hash` taken twice), on a real PostgreSQL
(SELECT ... FOR UPDATE on the head row) and on SQLite (BEGIN IMMEDIATE); tampering in PostgreSQL is found too."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text

from audit.store import AuditStore
from audit.verify import verify_chain
from foundation import REPO
from tests.unit.test_audit_chain import change

APPENDS_PER_PROCESS = 40
# Each writer process waits for the go file, then appends its records one by one as fast as it can.
WRITER = """
import os, sys, time
from audit.records import Change
from audit.store import AuditStore
url, name, go, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
while not os.path.exists(go):
    time.sleep(0.01)
store = AuditStore(url)
for n in range(count):
    store.append(Change(customer_id="C1001", channel="rest", conversation=name, what="refund", before=None,
                        after={"n": n}, idempotency_key=f"{name}-{n}", outcome="succeeded"))
store.dispose()
"""


@pytest.fixture
def database(postgres) -> str:
    """A new, empty database on the session's PostgreSQL; its SQLAlchemy URL."""
    return new_postgres_database(postgres)


def new_postgres_database(postgres) -> str:
    name = f"audit_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_processes_appending_at_once_keep_one_chain(backend, request, tmp_path):
    if backend == "postgresql":
        database = new_postgres_database(request.getfixturevalue("postgres"))
    else:
        database = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, database, name, str(go), str(APPENDS_PER_PROCESS)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("writer-a", "writer-b")
    ]
    go.touch()  # both start together, on a database without tables yet: they race to create them too
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors

    store = AuditStore(database)
    records = list(store.records())
    verdict = verify_chain(records, store.head())
    store.dispose()
    assert verdict.intact, verdict.broken
    assert [r.seq for r in records] == list(range(1, 2 * APPENDS_PER_PROCESS + 1))
    assert len({r.prev_hash for r in records}) == len(records)  # no record's place taken twice
    for name in ("writer-a", "writer-b"):
        assert [r.change.after["n"] for r in records if r.change.conversation == name] == list(
            range(APPENDS_PER_PROCESS)
        )


def test_an_edit_in_postgresql_is_found(database):
    store = AuditStore(database)
    for n in range(1, 4):
        store.append(change(n))
    assert verify_chain(store.records(), store.head()).intact
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET customer_id = 'C9999' WHERE seq = 2"))
    broken = verify_chain(store.records(), store.head()).broken
    store.dispose()
    assert broken is not None and (broken.seq, broken.kind) == (2, "edited")
