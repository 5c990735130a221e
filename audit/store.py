"""The chain in SQL (SQLAlchemy: SQLite by default, PostgreSQL in production): append, read, nothing else.

There is no update and no delete. Appends are serialised so that several action-server processes never fork
the chain: on PostgreSQL each append locks the one row of `audit_head` (`SELECT ... FOR UPDATE`), on SQLite it
opens its transaction with `BEGIN IMMEDIATE`. `audit_head` also holds the last record's number and hash, so a
record deleted from the end of the chain is found as well.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, event, or_, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from audit.records import GENESIS_HASH, AuditRecord, Change, canonical_json

metadata = MetaData()
records_table = Table(
    "audit_records",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("record_id", String(32), nullable=False, unique=True),
    Column("recorded_at", String(32), nullable=False, index=True),
    Column("customer_id", String(64), index=True),
    Column("channel", String(32)),
    Column("conversation", String(64), nullable=False),
    Column("what", String(64), nullable=False),
    # Canonical JSON text, not a JSON column: PostgreSQL's jsonb would rewrite it.
    Column("before", Text),
    Column("after", Text),
    Column("idempotency_key", String(128), index=True),
    Column("outcome", String(16), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
head_table = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)
HEAD_ID = 1
# How long to wait for PostgreSQL to accept a connection (unless the URL sets connect_timeout itself).
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(url: str) -> Engine:
    """An engine whose transactions serialise appends (SQLite: BEGIN IMMEDIATE; its folder is created)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # A store that does not answer must not hold the shopper's turn: the change is refused instead.
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        return create_engine(url, pool_pre_ping=True, future=True, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, future=True)

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite would otherwise BEGIN (deferred) on its own

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class AuditStore:
    """The audit records in one database: `append`, `records`, `head`; no way to change or remove one."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._schema_ready = False

    def ping(self) -> bool:
        """Whether the database answers and holds the tables (created on first use)."""
        try:
            self._ensure_schema()
            with self.engine.connect() as connection:
                connection.execute(select(head_table.c.seq).where(head_table.c.id == HEAD_ID)).one()
        except DBAPIError:
            return False
        return True

    def append(self, change: Change) -> AuditRecord | None:
        """Add `change` at the end of the chain; None when it is already there.

        Already there: the same `record_id` (a spooled change appended twice), or the same operation with the
        same idempotency key and outcome (the action run again for one "yes": one change, one record).
        Raises SQLAlchemy's errors when the database cannot take it.
        """
        self._ensure_schema()
        with self.engine.begin() as connection:
            seq, prev_hash = connection.execute(
                select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == HEAD_ID).with_for_update()
            ).one()
            if self._already_recorded(connection, change):
                return None
            record = AuditRecord.chained(seq + 1, change, prev_hash)
            connection.execute(records_table.insert().values(**row_of(record)))
            connection.execute(
                head_table.update().where(head_table.c.id == HEAD_ID).values(seq=record.seq, hash=record.hash)
            )
        return record

    def records(self, *, customer_id: str | None = None, since: str | None = None) -> Iterator[AuditRecord]:
        """The records in chain order, optionally of one customer and from a `recorded_at` text on."""
        self._ensure_schema()
        query = select(records_table).order_by(records_table.c.seq)
        if customer_id:
            query = query.where(records_table.c.customer_id == customer_id)
        if since:
            query = query.where(records_table.c.recorded_at >= since)
        with self.engine.connect() as connection:
            for row in connection.execute(query).mappings():
                yield record_of(row)

    def head(self) -> tuple[int, str]:
        """The number and hash of the last record appended (0 and the genesis hash for an empty chain)."""
        self._ensure_schema()
        with self.engine.connect() as connection:
            seq, last_hash = connection.execute(
                select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == HEAD_ID)
            ).one()
        return int(seq), str(last_hash)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def _already_recorded(self, connection: Connection, change: Change) -> bool:
        same = records_table.c.record_id == change.record_id
        if change.idempotency_key:
            same = or_(
                same,
                (records_table.c.idempotency_key == change.idempotency_key)
                & (records_table.c.what == change.what)
                & (records_table.c.outcome == change.outcome),
            )
        return connection.execute(select(records_table.c.seq).where(same).limit(1)).first() is not None

    def _ensure_schema(self) -> None:
        """Create the tables and the head row once; several processes may race to do it."""
        if self._schema_ready:
            return
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                with self.engine.begin() as connection:
                    if connection.execute(select(head_table.c.id).where(head_table.c.id == HEAD_ID)).first() is None:
                        connection.execute(head_table.insert().values(id=HEAD_ID, seq=0, hash=GENESIS_HASH))
                break
            except (IntegrityError, ProgrammingError):
                # Another process created a table or the head row first (PostgreSQL: duplicate table or type).
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        self._schema_ready = True


def row_of(record: AuditRecord) -> dict[str, Any]:
    """The table row of a record."""
    change = record.change
    return {
        "seq": record.seq,
        "record_id": change.record_id,
        "recorded_at": change.recorded_at,
        "customer_id": change.customer_id,
        "channel": change.channel,
        "conversation": change.conversation,
        "what": change.what,
        "before": None if change.before is None else canonical_json(change.before),
        "after": None if change.after is None else canonical_json(change.after),
        "idempotency_key": change.idempotency_key,
        "outcome": change.outcome,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def record_of(row: Any) -> AuditRecord:
    """The record a table row holds, as stored (its hash is not checked here: see audit.verify)."""
    change = Change(
        customer_id=row["customer_id"],
        channel=row["channel"],
        conversation=row["conversation"],
        what=row["what"],
        before=_json_or_text(row["before"]),
        after=_json_or_text(row["after"]),
        idempotency_key=row["idempotency_key"],
        outcome=row["outcome"],
        recorded_at=row["recorded_at"],
        record_id=row["record_id"],
    )
    return AuditRecord(seq=row["seq"], change=change, prev_hash=row["prev_hash"], hash=row["hash"])


def _json_or_text(value: str | None) -> Any:
    """Stored JSON, parsed; text that is not JSON (edited by hand) stays text, so its hash does not match."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
