"""The consumer of Rasa's SQL event broker (`make run`: endpoints.yml's `event_broker: type: SQL`).

Rasa's SQLEventBroker (rasa/core/brokers/sql.py) writes each event as one row of its `events` table: `id`
(increasing), `sender_id`, and `data`, the event as JSON. The consumer reads the rows after the last id it
counted, in batches, and counts each batch with its last id in one transaction (analytics/store.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from analytics.mapping import parse_payload
from analytics.store import AnalyticsStore

BATCH_SIZE = 500
_METADATA = MetaData()
# The table as SQLEventBroker defines it (read only: the broker creates it).
BROKER_EVENTS = Table(
    "events",
    _METADATA,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


def broker_url(db: str) -> str:
    """A SQLAlchemy URL for `--db`: a SQLite file path as endpoints.yml names it, or already a URL."""
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


class SqlBrokerConsumer:
    """Counts the rows of a SQL event broker's `events` table into an `AnalyticsStore`, each row once."""

    def __init__(self, store: AnalyticsStore, db: str, *, batch_size: int = BATCH_SIZE) -> None:
        self.store, self.url, self.batch_size = store, broker_url(db), batch_size
        # The offset's name: a hash of the URL, which may carry a password.
        self.source = "sql:" + hashlib.sha256(self.url.encode()).hexdigest()[:24]

    def _missing(self) -> bool:
        parsed = sqlalchemy.engine.make_url(self.url)
        return parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file()

    def consume_once(self) -> int:
        """Count every row not counted yet; returns how many events were new. No broker file yet: 0."""
        if self._missing():
            return 0
        engine = sqlalchemy.create_engine(self.url, future=True)
        try:
            if not sqlalchemy.inspect(engine).has_table(BROKER_EVENTS.name):
                return 0
            new = 0
            position = self.store.offset(self.source)
            while True:
                with engine.connect() as connection:
                    rows = connection.execute(
                        sqlalchemy.select(BROKER_EVENTS.c.id, BROKER_EVENTS.c.data)
                        .where(BROKER_EVENTS.c.id > position)
                        .order_by(BROKER_EVENTS.c.id)
                        .limit(self.batch_size)
                    ).all()
                if not rows:
                    return new
                events = [event for event in (parse_payload(row.data) for row in rows) if event is not None]
                position = int(rows[-1].id)
                new += self.store.count(events, source=self.source, position=position)
        finally:
            engine.dispose()
