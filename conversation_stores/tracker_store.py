"""Rasa's SQL tracker store, without reading a whole conversation back from the database on every message.

Rasa's `SQLTrackerStore` reads all of a session's rows through the ORM on each message; on save it counts the
stored rows (an ORM query with a sub-query) to find the new events, then inserts them through the ORM. What
that cost in the serving benchmark: docs/performance.md.

`CachingSQLTrackerStore` keeps, per conversation, the rows of the current session as stored (the JSON text
of each event) and the id of the last one. A retrieve asks the database only for rows after that id (a turn
another replica handled in between), then builds the tracker from the rows exactly as Rasa does, so the
tracker a turn gets is the one Rasa would have built. A save inserts the events the handed-out tracker gained
since, in one statement. When nothing was stored since its last save, the next retrieve hands out that same
tracker again (with another replica's rows applied to it when there are some), so a turn does not deserialise
and replay the whole session, and what rasa_runtime/flat_turns.py learnt about its history carries over; a
tracker a turn changed without saving, or one still lent to another reader, is built afresh from the rows.
The database stays the only truth; what the store keeps is a shortcut to the same rows in the same order.
Where it cannot vouch for that, it does what Rasa does:

- a new session among another replica's rows: a full read (Rasa reads from the latest `session_started`);
- saving a tracker it did not hand out last (the HTTP API's event replacement, a second concurrent reader):
  Rasa's count of stored rows decides what is new;
- a dialect other than PostgreSQL and SQLite: Rasa's store unchanged.

Every database call of the shortcut runs on the store's few threads (`blocking.py`), so a replica's event loop
answers other conversations while one waits on PostgreSQL. One engine, one connection pool, as Rasa's store
has: single statements take an autocommit connection from it, so `engine.dispose()` closes every connection
the store opened, and an in-memory SQLite database (`sqlite://`, which lives in its one connection) is the
same database for every read and write; such a database is served on the caller's thread, as Rasa serves it.

Each of those database calls is retried while the database cannot be reached (a PostgreSQL restart) for up to
`retry_seconds` (STORE_RETRY_SECONDS, `retrying.py`): Rasa's `FailSafeTrackerStore` would otherwise keep a
failed save's events in the replica's memory only. An insert is never doubled by its retry: before inserting
again, the store looks whether the rows it sent are the conversation's last ones (the connection may have broken
after PostgreSQL committed them).

Same tables, same rows and the same event-broker stream as `SQLTrackerStore`, so a deployment can switch
back at any time.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg2
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from conversation_stores.blocking import DEFAULT_IO_THREADS, BlockingCalls
from conversation_stores.retrying import ServerRetry
from conversation_stores.settings import StoreSettings

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

FAST_DIALECTS = {"postgresql", "sqlite"}
ROW_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


@dataclass
class _Session:
    """The stored rows of a conversation's current session, and the tracker last handed out for them."""

    rows: list[str]  # each event's JSON, as stored, in id order
    last_id: int
    tracker: DialogueStateTracker | None = None  # its first `stored` events are `rows`
    stored: int = 0
    lent: bool = False  # handed out and not saved since: a second reader gets its own tracker


class CachingSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store that reads only the rows a conversation gained since this process last saw it.

    Options in `endpoints.yml` besides those of Rasa's SQL store: `cache_size`, the conversations kept per
    process (least recently used go first; default 1000; 0 turns the shortcut off), `cache_events`, the events
    they may hold together (default 100000: a few long conversations must not fill a replica's memory; the
    conversation just used always stays), `io_threads`, the
    threads that wait on the database for the event loop (default 4; 0: on the event loop, as Rasa's store;
    one for a SQLite file, which takes one writer at a time; none for an in-memory SQLite database), and
    `retry_seconds`, how long a call is retried while the database cannot be reached (STORE_RETRY_SECONDS).
    """

    def __init__(
        self,
        *args: Any,
        cache_size: int = 1000,
        cache_events: int = 100_000,
        io_threads: int = DEFAULT_IO_THREADS,
        retry_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if int(cache_size) < 0:
            raise ValueError(f"tracker store cache_size must be 0 or more, got {cache_size}")
        if int(cache_events) < 1:
            raise ValueError(f"tracker store cache_events must be 1 or more, got {cache_events}")
        if int(io_threads) < 0:
            raise ValueError(f"tracker store io_threads must be 0 or more, got {io_threads}")
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self.cache_events = int(cache_events)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._cached_events = 0  # the events of the kept sessions' rows, together
        self._fast = self.engine.dialect.name in FAST_DIALECTS and self.cache_size > 0
        self._table = self.SQLEvent.__table__
        # Built once: SQLAlchemy then reuses the compiled statements instead of re-deriving their cache keys.
        columns = self._table.c
        self._max_id = sa.select(sa.func.max(columns.id)).where(columns.sender_id == sa.bindparam("sender_id"))
        self._delta = (
            sa.select(columns.id, columns.type_name, columns.data)
            .where(columns.sender_id == sa.bindparam("sender_id"), columns.id > sa.bindparam("last_id"))
            .order_by(columns.id)
        )
        self._calls = BlockingCalls(_threads_for(self.engine.url, int(io_threads)), "tracker-store")
        seconds = StoreSettings.current().store_retry_seconds if retry_seconds is None else float(retry_seconds)
        self._retry = ServerRetry("tracker store", database_unreachable, seconds, self._drop_pooled_connections)
        # What the shortcut saved (tests and debugging read it): reads of only the new rows, whole-session reads,
        # rows read, and saves that needed Rasa's row count.
        self.stats = {"incremental_reads": 0, "full_reads": 0, "rows_read": 0, "counted_saves": 0, "reused_trackers": 0}

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker, built from the kept rows plus those stored since."""
        if not self._fast or not self.domain:  # without a domain, Rasa's store answers None
            return await super().retrieve(sender_id)
        kept = self._take(sender_id)
        delta: Sequence[Any] = ()
        if kept is not None:
            delta = await self._read_after(sender_id, kept.last_id)
            if any(row.type_name == SessionStarted.type_name for row in delta):
                kept = None
            else:
                kept.rows.extend(row.data for row in delta)
                kept.last_id = delta[-1].id if delta else kept.last_id
                self.stats["incremental_reads"] += 1
                self.stats["rows_read"] += len(delta)
        if kept is not None and self._unchanged(kept):
            tracker = self._brought_up_to_date(kept, delta)
            self._keep(sender_id, kept)
            return tracker
        if kept is None:
            rows = await self._on_database(self._session_rows, sender_id)
            if not rows:
                self._keep(sender_id, _Session([], 0))  # a new conversation: its first save stores all
                return None
            kept = _Session([row.data for row in rows], rows[-1].id)
            self.stats["full_reads"] += 1
            self.stats["rows_read"] += len(rows)
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row) for row in kept.rows], self.domain.slots)
        kept.tracker, kept.stored, kept.lent = tracker, len(tracker.events), True
        self._keep(sender_id, kept)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events the tracker gained since it was handed out (or, for another tracker, those
        beyond the stored count, as Rasa does) and stream them to the event broker."""
        if not self._fast:
            return await super().save(tracker)
        sender_id = tracker.sender_id
        kept = self._take(sender_id)
        # The tracker last handed out, or the first one of a conversation the last retrieve found empty.
        ours = (
            kept if kept is not None and (kept.tracker is tracker or (kept.tracker is None and not kept.rows)) else None
        )
        if ours is not None:
            stored = ours.stored
        else:
            stored = await self._on_database(self._stored_count, sender_id)
            self.stats["counted_saves"] += 1
        new_events = list(itertools.islice(tracker.events, stored, len(tracker.events)))
        if self.event_broker:
            await self._stream_new_events(self.event_broker, new_events, sender_id)
        rows = [self._row(sender_id, event) for event in new_events]
        last_id = await self._store_rows(sender_id, rows) if rows else None
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
        if ours is None and stored:
            return  # rows this process has not seen: the next retrieve reads them all
        kept = ours if ours is not None else _Session([], 0)
        kept.rows.extend(row["data"] for row in rows)
        kept.last_id = last_id if last_id is not None else kept.last_id
        kept.tracker, kept.stored, kept.lent = tracker, len(tracker.events), False
        starts = [index for index, event in enumerate(new_events) if isinstance(event, SessionStarted)]
        if starts and stored + starts[-1] > 0:
            # The next read begins at the new session, as Rasa's does; the handed-out tracker (which still
            # holds the old one) is no longer what the rows say.
            kept.rows = kept.rows[len(kept.rows) - len(rows) + starts[-1] :]
            kept.tracker = None
        self._keep(sender_id, kept)  # even with no rows yet: Rasa creates a new conversation's tracker empty

    @staticmethod
    def _unchanged(kept: _Session) -> bool:
        """Whether the tracker handed out last was saved since and still holds exactly the stored events."""
        return kept.tracker is not None and not kept.lent and len(kept.tracker.events) == kept.stored

    def _brought_up_to_date(self, kept: _Session, delta: Sequence[Any]) -> DialogueStateTracker:
        """The tracker handed out last, with the rows stored since applied to it: the tracker Rasa would build
        from all the rows (events apply one after the other), without deserialising and replaying the earlier
        ones again; what the tracker learnt about them (rasa_runtime/flat_turns.py) carries over."""
        tracker = kept.tracker
        assert tracker is not None
        if delta:
            # Applied as to a tracker built from rows, which has no model yet (update() would stamp its id).
            model = tracker.model_id, tracker.assistant_id
            tracker.model_id, tracker.assistant_id = None, None
            for event in deserialise_events([json.loads(row.data) for row in delta]):
                tracker.update(event)
            tracker.model_id, tracker.assistant_id = model
        kept.stored, kept.lent = len(tracker.events), True
        self.stats["reused_trackers"] += 1
        return tracker

    def _take(self, sender_id: str) -> _Session | None:
        """The conversation's kept session, out of the cache while a turn reads or saves it."""
        kept = self._sessions.pop(sender_id, None)
        if kept is not None:
            self._cached_events -= len(kept.rows)
        return kept

    def _keep(self, sender_id: str, kept: _Session) -> None:
        """Keep the session as the most recently used; the least recently used go beyond either bound."""
        self._sessions[sender_id] = kept
        self._cached_events += len(kept.rows)
        while len(self._sessions) > self.cache_size or (
            self._cached_events > self.cache_events and len(self._sessions) > 1
        ):
            _, evicted = self._sessions.popitem(last=False)
            self._cached_events -= len(evicted.rows)

    def dispose(self) -> None:
        """Close every database connection the store holds and stop its threads (a replica shutting down)."""
        self._calls.close()
        self.engine.dispose()

    async def _read_after(self, sender_id: str, last_id: int) -> Sequence[Any]:
        """The conversation's rows after `last_id` (id, type_name, data), off the event loop."""
        return await self._on_database(self._rows_after, sender_id, last_id)

    async def _store_rows(self, sender_id: str, rows: list[dict[str, Any]]) -> int:
        """Insert the rows, off the event loop; the id of the last one.

        Retried while the database cannot be reached; a retry first looks whether the broken attempt stored
        the rows after all (committed, and the connection broke before the answer), and then does not insert
        them again. Under the conversation's lock no one else adds rows for this sender meanwhile.
        """
        attempts = itertools.count()

        async def attempt() -> int:
            if next(attempts):
                stored = await self._calls.run(self._stored_tail, sender_id, rows)
                if stored is not None:
                    return stored
            return await self._calls.run(self._insert, sender_id, rows)

        return await self._retry.run(attempt)

    async def _on_database(self, call: Callable[..., Result], *args: Any) -> Result:
        """One blocking database call on the store's threads, retried while the database cannot be reached."""
        return await self._retry.run(lambda: self._calls.run(call, *args))

    def _drop_pooled_connections(self, error: BaseException) -> None:
        """Before a retry: close the pool's idle connections, which a restarted server no longer knows
        (a fresh pool connects anew; connections in use are discarded when given back)."""
        self.engine.dispose()

    def _stored_tail(self, sender_id: str, rows: list[dict[str, Any]]) -> int | None:
        """The id of the last row when the sender's last stored rows are exactly `rows` (their JSON, in order,
        timestamps included), else None."""
        columns = self._table.c
        query = (
            sa.select(columns.id, columns.data)
            .where(columns.sender_id == sender_id)
            .order_by(columns.id.desc())
            .limit(len(rows))
        )
        with self._single_statements() as connection:
            tail = connection.execute(query).all()[::-1]
        if [row.data for row in tail] == [row["data"] for row in rows]:
            return tail[-1].id
        return None

    def _single_statements(self) -> sa.engine.Connection:
        """A connection of the store's one pool in autocommit: single statements need no BEGIN and no ROLLBACK
        round trip around them (psycopg2 switches autocommit on the client, without a round trip)."""
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _rows_after(self, sender_id: str, last_id: int) -> Sequence[Any]:
        with self._single_statements() as connection:
            return connection.execute(self._delta, {"sender_id": sender_id, "last_id": last_id}).all()

    def _session_rows(self, sender_id: str) -> Sequence[Any]:
        """Ids and JSON of the latest session's rows, read as Rasa's store reads them."""
        with self.session_scope() as session:
            return (
                self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
                .with_entities(self.SQLEvent.id, self.SQLEvent.data)
                .all()
            )

    def _stored_count(self, sender_id: str) -> int:
        """Rasa's count of the latest session's stored rows, which decides what a save stores."""
        with self.session_scope() as session:
            return self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()

    def _insert(self, sender_id: str, rows: list[dict[str, Any]]) -> int:
        """Insert the rows in one statement; the id of the last one.

        PostgreSQL: one multi-row INSERT ... RETURNING (atomic on its own, one round trip). SQLite (local,
        one writer): an executemany and the highest id of the sender in one transaction; under the
        conversation's lock no one else adds rows for this sender.
        """
        if self.engine.dialect.name == "postgresql":
            from psycopg2.extras import execute_values

            columns = ", ".join(ROW_COLUMNS)
            with self._single_statements() as connection, connection.connection.cursor() as cursor:
                ids = execute_values(
                    cursor,
                    f"INSERT INTO {self._table.name} ({columns}) VALUES %s RETURNING id",
                    [tuple(row[column] for column in ROW_COLUMNS) for row in rows],
                    page_size=max(100, len(rows)),
                    fetch=True,
                )
            return max(found for (found,) in ids)
        with self.engine.begin() as connection:
            connection.execute(self._table.insert(), rows)
            return connection.execute(self._max_id, {"sender_id": sender_id}).scalar()

    @staticmethod
    def _row(sender_id: str, event: Event) -> dict[str, Any]:
        """The same columns SQLTrackerStore.save writes."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


def database_unreachable(error: BaseException) -> bool:
    """Whether a database call failed because the database could not be reached or the connection broke
    (refused while PostgreSQL restarts, closed by its shutdown); not for errors in the statement itself."""
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error, (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError)
    )


def _threads_for(url: sa.engine.URL, wanted: int) -> int:
    """The threads a database can take: none for an in-memory SQLite database (it lives in one connection,
    which SQLAlchemy keeps per thread), one for a SQLite file (one writer at a time), `wanted` otherwise."""
    if url.get_backend_name() != "sqlite":
        return wanted
    if url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        return 0
    return min(wanted, 1)
