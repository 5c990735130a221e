"""A throw-away Redis for a test (foundation/local_servers.py, shared with the benchmarks)."""

from foundation.local_servers import redis_binary, start_redis

__all__ = ["redis_binary", "start_redis"]
