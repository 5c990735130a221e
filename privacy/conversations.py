"""The conversations of Rasa's SQL tracker store and SQL event broker, found, exported and deleted whole.

Both keep an `events` table with a `sender_id` per row: the tracker store's with a `timestamp` column and the
event as JSON in `data`, the broker's with only the JSON. A conversation is all the rows of one sender id, in
both tables; it is only ever removed whole (a conversation missing its start would not replay).

- A customer's conversations are those in which the assistant verified that customer: a `slot` event setting
  `customer_id` to their CRM id (actions/service_form.py sets it once the code matched).
- A conversation has expired when its latest event is older than the retention period.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

CUSTOMER_SLOT = "customer_id"
BATCH = 500  # sender ids per IN (...) clause


@dataclass(frozen=True)
class EventTable:
    """The `events` table of one database: the tracker store's (`timed`: it has a timestamp column) or the
    event broker's."""

    engine: sa.engine.Engine
    timed: bool

    @classmethod
    def at(cls, url: str, timed: bool) -> EventTable | None:
        """The table at `url`, or None when that database has no `events` table (nothing was ever stored)."""
        engine = sa.create_engine(url)
        if not sa.inspect(engine).has_table("events"):
            engine.dispose()
            return None
        return cls(engine, timed)

    @property
    def table(self) -> sa.Table:
        columns = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("sender_id", sa.String(255))]
        if self.timed:
            columns += [sa.Column("type_name", sa.String(255)), sa.Column("timestamp", sa.Float)]
        return sa.Table("events", sa.MetaData(), *columns, sa.Column("data", sa.Text))

    def rows(self, senders: Iterable[str] | None = None) -> Iterator[sa.engine.Row]:
        """Every row (of these senders), in id order."""
        table = self.table
        with self.engine.connect() as connection:
            if senders is None:
                yield from connection.execute(sa.select(table).order_by(table.c.id))
                return
            for batch in _batches(sorted(set(senders))):
                query = sa.select(table).where(table.c.sender_id.in_(batch)).order_by(table.c.id)
                yield from connection.execute(query)

    def delete(self, senders: Iterable[str]) -> int:
        """Delete every row of these senders; the rows deleted."""
        table, deleted = self.table, 0
        with self.engine.begin() as connection:
            for batch in _batches(sorted(set(senders))):
                deleted += connection.execute(sa.delete(table).where(table.c.sender_id.in_(batch))).rowcount
        return deleted

    def dispose(self) -> None:
        self.engine.dispose()


def _batches(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def event_of(row: sa.engine.Row) -> dict[str, Any]:
    """The event a row holds (a row whose JSON does not parse is shown as its text)."""
    try:
        event = json.loads(row.data)
    except (TypeError, ValueError):
        return {"unreadable": row.data}
    return event if isinstance(event, dict) else {"unreadable": row.data}


def conversations_of(tables: Iterable[EventTable], customer_id: str) -> set[str]:
    """The sender ids of every conversation in which the assistant verified this customer."""
    found: set[str] = set()
    for events in tables:
        for row in events.rows():
            event = event_of(row)
            verified = event.get("event") == "slot" and event.get("name") == CUSTOMER_SLOT
            if verified and event.get("value") == customer_id:
                found.add(row.sender_id)
    return found


def expired(tables: Iterable[EventTable], cutoff: float) -> set[str]:
    """The sender ids whose latest event, in every table, is older than `cutoff` (a Unix time)."""
    latest: dict[str, float] = {}
    for events in tables:
        for row in events.rows():
            stamp = row.timestamp if events.timed else event_of(row).get("timestamp")
            if isinstance(stamp, (int, float)):
                latest[row.sender_id] = max(latest.get(row.sender_id, float("-inf")), float(stamp))
            else:  # no time: kept until it has one
                latest[row.sender_id] = float("inf")
    return {sender for sender, stamp in latest.items() if stamp < cutoff}
