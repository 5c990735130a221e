"""A throw-away PostgreSQL server for a test session (foundation/local_servers.py, shared with the benchmarks).

And the two things the store tests do with it: open our tracker store on it, and read one figure back.
"""

from __future__ import annotations

from typing import Any

import psycopg2

from conversation_stores.tracker_store import CachingSQLTrackerStore
from foundation.local_servers import PostgresServer

__all__ = ["PostgresServer", "scalar", "tracker_store_on"]

DATABASE = "assistant"


def tracker_store_on(port: int, domain: Any, cls: type = CachingSQLTrackerStore, **options: Any) -> Any:
    """Our tracker store (or Rasa's, with `cls`) on the test server's database, as a replica opens it."""
    return cls(
        domain=domain, dialect="postgresql", host="127.0.0.1", port=port, db=DATABASE, username="postgres", **options
    )


def scalar(port: int, sql: str, *params: Any) -> Any:
    """The first column of the first row a query answers, read over a connection of its own."""
    admin = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=DATABASE)
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]
    finally:
        admin.close()
