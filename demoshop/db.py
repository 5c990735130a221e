"""Engine, sessions and the unit of work every request runs in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from demoshop.models import Base

# Columns added to a table after its first release: (table, column, SQL type). `create_all` makes missing tables
# only, so a database created before a column existed gets it at the next start.
ADDED_COLUMNS = (("tickets", "correlation_id", "VARCHAR(128)"), ("tickets", "erased_at", "TIMESTAMP"))


class Database:
    """One database of the demo shop: the engine, a session factory and a write lock.

    SQLite allows one writer at a time, so on SQLite mutations are serialised inside the process
    (the demo shop is one process); PostgreSQL relies on row locks and unique constraints instead.
    """

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, future=True
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, future=True)
        self._sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)
        for table, column, kind in ADDED_COLUMNS:
            if column not in {found["name"] for found in inspect(self.engine).get_columns(table)}:
                with self.engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits as a whole or not at all."""
        lock = self._write_lock
        if lock:
            lock.acquire()
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            if lock:
                lock.release()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
