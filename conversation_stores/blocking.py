"""A store's blocking client calls, run on a few threads of the store's own instead of on the event loop.

A Rasa replica answers all its conversations on one asyncio event loop. Rasa's SQL tracker store and Redis
lock store call their synchronous clients (SQLAlchemy with psycopg2, redis-py) right on that loop, so while
one conversation waits on PostgreSQL or Redis every other conversation of the replica waits too. The
project's stores hand each such call to a small, bounded thread pool and await it: the loop goes on with
other turns while the call waits on its socket (psycopg2 and redis-py release the GIL while they wait). The
clients, their single connection pool and the data stay as they are; only where the waiting happens changes.

Why threads and not asyncpg or redis.asyncio: docs/performance.md#the-stores-off-the-event-loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Result = TypeVar("Result")

DEFAULT_IO_THREADS = 4


class BlockingCalls:
    """Runs blocking calls on `threads` threads (0: on the caller's thread, as Rasa's stores do).

    Bounded on purpose: a pool no larger than a few threads keeps a replica's connections to PostgreSQL or
    Redis to that many, however many conversations wait at once.
    """

    def __init__(self, threads: int, name: str) -> None:
        if int(threads) < 0:
            raise ValueError(f"{name} io_threads must be 0 or more, got {threads}")
        self.threads = int(threads)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=name) if self.threads else None

    async def run(self, call: Callable[..., Result], *args: object) -> Result:
        """The call's result, computed off the event loop when the store has threads, in a copy of the caller's
        context (its correlation id, foundation/correlation.py, is on what the thread logs)."""
        if self._pool is None:
            return call(*args)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(context.run, call, *args))

    def close(self) -> None:
        """Wait for calls under way and stop the threads; later calls run on the caller's thread."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
