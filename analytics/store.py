"""The analytics store: conversations and turns counted from broker events, once per event, on SQLAlchemy.

SQLite by default (`ANALYTICS_DATABASE_URL`, `var/analytics.sqlite`), PostgreSQL in a cluster: any SQLAlchemy
URL. Each batch of events commits as one transaction with the consumer's new offset, so a consumer stopped
half-way starts again from the last batch it finished, and an event delivered twice counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from analytics.mapping import apply_event, event_key, new_conversation
from analytics.models import CONVERSATIONS, METADATA, TURNS, Conversation, CountedEvent, SourceOffset, Turn
from foundation.conversation_ref import conversation_ref, conversation_secret
from foundation.pii import known_values


class AnalyticsStore:
    """Where the consumers count events into (`count`) and the report reads from (`conversations`, `turns`)."""

    def __init__(self, url: str, *, ref_secret: str | None = None) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sqlalchemy.create_engine(url, future=True)
        METADATA.create_all(self.engine)
        _add_missing_columns(self.engine)
        self._sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)
        self._secret = ref_secret if ref_secret is not None else conversation_secret()

    def offset(self, source: str) -> int:
        """How far the consumer of `source` has read (0: from the start)."""
        with self._sessions() as session:
            found = session.get(SourceOffset, source)
            return int(found.position) if found else 0

    def count(
        self, events: Sequence[Mapping[str, Any]], *, source: str | None = None, position: int | None = None
    ) -> int:
        """Count the events not counted before, in their order; with `source`, move its offset to `position` in the
        same transaction. Returns how many were new."""
        with self._sessions.begin() as session:
            counted = _Batch(session, self._secret, events).count()
            if source is not None and position is not None:
                session.merge(SourceOffset(source=source, position=position))
        return counted

    def conversations(self) -> list[Conversation]:
        """Every conversation, oldest first."""
        with self._sessions() as session:
            return list(session.scalars(sqlalchemy.select(Conversation).order_by(CONVERSATIONS.c.started_at)))

    def turns(self) -> list[Turn]:
        """Every turn, by conversation and number."""
        with self._sessions() as session:
            return list(session.scalars(sqlalchemy.select(Turn).order_by(TURNS.c.conversation_ref, TURNS.c.number)))

    def forget(self, refs: Iterable[str], *, dry_run: bool = False) -> int:
        """Delete the conversations with these references and their turns (retention, a customer's erasure);
        how many conversations there were. Their counted-event keys stay, so a redelivery cannot bring them back."""
        wanted = sorted(set(refs))
        if not wanted:
            return 0
        with self._sessions.begin() as session:
            found = session.scalar(
                sqlalchemy.select(func.count()).select_from(CONVERSATIONS).where(CONVERSATIONS.c.ref.in_(wanted))
            )
            if not dry_run:
                session.execute(sqlalchemy.delete(TURNS).where(TURNS.c.conversation_ref.in_(wanted)))
                session.execute(sqlalchemy.delete(CONVERSATIONS).where(CONVERSATIONS.c.ref.in_(wanted)))
        return int(found or 0)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _add_missing_columns(engine: sqlalchemy.engine.Engine) -> None:
    """Add the nullable columns a store made by an older release lacks (`create_all` makes missing tables only)."""
    inspector = sqlalchemy.inspect(engine)
    for table in (CONVERSATIONS, TURNS):
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as connection:
                    connection.execute(sqlalchemy.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


class _Batch:
    """One transaction's events: the conversations and latest turns they touch, loaded once each."""

    def __init__(self, session: Session, secret: str, events: Sequence[Mapping[str, Any]]) -> None:
        self.session, self.secret, self.events = session, secret, events
        self.conversations: dict[str, Conversation] = {}
        self.latest_turns: dict[str, Turn | None] = {}
        self.keys: set[str] = set()
        self.secrets_by_sender: dict[str, list[str]] = {}
        for event in events:
            sender = event.get("sender_id")
            if isinstance(sender, str):
                self.secrets_by_sender.setdefault(sender, []).extend(known_values([event]))

    def count(self) -> int:
        new = 0
        for event in self.events:
            sender = event.get("sender_id")
            if not isinstance(sender, str) or not sender:
                continue
            ref = conversation_ref(sender, self.secret)
            key = event_key(event, ref)
            if key in self.keys or self.session.get(CountedEvent, key) is not None:
                continue
            self.keys.add(key)
            self.session.add(CountedEvent(key=key))
            conversation = self._conversation(ref, sender)
            turn = apply_event(conversation, self._latest_turn(ref), event, self.secrets_by_sender.get(sender, ()))
            if turn is not None:
                self.session.add(turn)
                self.latest_turns[ref] = turn
            new += 1
        return new

    def _conversation(self, ref: str, sender: str) -> Conversation:
        if ref not in self.conversations:
            found = self.session.get(Conversation, ref)
            if found is None:
                found = new_conversation(ref, sender)
                self.session.add(found)
            self.conversations[ref] = found
        return self.conversations[ref]

    def _latest_turn(self, ref: str) -> Turn | None:
        if ref not in self.latest_turns:
            newest = self.session.scalar(
                sqlalchemy.select(func.max(TURNS.c.number)).where(TURNS.c.conversation_ref == ref)
            )
            self.latest_turns[ref] = (
                self.session.scalars(
                    sqlalchemy.select(Turn).where(TURNS.c.conversation_ref == ref, TURNS.c.number == newest)
                ).first()
                if newest is not None
                else None
            )
        return self.latest_turns[ref]
