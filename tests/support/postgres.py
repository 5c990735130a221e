"""A throw-away PostgreSQL server for a test session (foundation/local_servers.py, shared with the benchmarks)."""

from foundation.local_servers import PostgresServer

__all__ = ["PostgresServer"]
