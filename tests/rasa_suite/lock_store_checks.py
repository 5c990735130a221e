"""What Rasa's Redis lock store does, as checks that any lock store class built like it must pass.

Each check takes a `make_store(**options)` that builds the class under test on one Redis, with Rasa's
`RedisLockStore` arguments, and restates one behaviour tested in Rasa's `tests/core/test_lock_store.py` (the
test named in the docstring). Written for this project: SOURCE.md.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rasa.core.lock import NO_TICKET_ISSUED
from rasa.core.lock_store import LockError

MakeStore = Callable[..., Any]


def conversation() -> str:
    return f"c{uuid.uuid4().hex[:10]}"


def create_and_get_lock(make_store: MakeStore) -> None:
    """test_create_lock_store: a saved lock comes back with its conversation and tickets."""
    store, cid = make_store(), conversation()
    lock = store.create_lock(cid)
    lock.issue_ticket(10)
    store.save_lock(lock)
    found = store.get_lock(cid)
    assert found.conversation_id == cid and found.last_issued == 0
    store.delete_lock(cid)
    assert store.get_lock(cid) is None


def tickets_in_order(make_store: MakeStore) -> None:
    """test_serve_ticket: tickets are numbered in order; the first is served until it is finished."""
    store, cid = make_store(), conversation()
    assert [store.issue_ticket(cid) for _ in range(3)] == [0, 1, 2]
    lock = store.get_lock(cid)
    assert lock.now_serving == 0 and lock.last_issued == 2 and lock.is_locked(1)
    store.finish_serving(cid, 0)
    assert store.get_lock(cid).now_serving == 1
    store.cleanup(cid, 1)
    store.cleanup(cid, 2)
    assert store.get_lock(cid) is None  # no one waiting: the lock is gone


def expired_tickets_are_dropped(make_store: MakeStore) -> None:
    """test_lock_expiration: a ticket past its lifetime no longer holds the lock."""
    store, cid = make_store(), conversation()
    store.issue_ticket(cid, lock_lifetime=0.01)
    time.sleep(0.05)
    lock = store.get_or_create_lock(cid)
    assert lock.last_issued == NO_TICKET_ISSUED and not lock.is_someone_waiting()
    assert store.issue_ticket(cid) == 0  # numbering starts again


def turns_one_at_a_time(make_store: MakeStore) -> None:
    """test_message_order / test_lock_is_acquired_in_order: one conversation's turns never overlap, in order."""
    cid, log = conversation(), []

    async def turn(name: str, hold: float) -> None:
        async with make_store().lock(cid, wait_time_in_seconds=0.01):
            log.append(f"{name} in")
            await asyncio.sleep(hold)
            log.append(f"{name} out")

    async def scenario() -> None:
        first = asyncio.ensure_future(turn("a", 0.2))
        while not log:
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(turn("b", 0.01))
        await asyncio.gather(first, second)

    asyncio.run(scenario())
    assert log == ["a in", "a out", "b in", "b out"]
    assert make_store().get_lock(cid) is None


def key_prefix(make_store: MakeStore) -> None:
    """test_redis_lock_store_with_valid_prefix / with_invalid_prefix: alphanumeric prefixes only."""
    assert make_store(key_prefix="shop1").key_prefix == "shop1:lock:"
    assert make_store(key_prefix="not-alnum").key_prefix == "lock:"


def unreachable_redis_raises_lock_error(make_store: MakeStore, closed_port: int) -> None:
    """test_redis_lock_store_timeout / connection errors: drawing a ticket from no Redis is a LockError."""
    store = make_store(port=closed_port, socket_timeout=1)
    with pytest.raises(LockError):
        store.issue_ticket(conversation())


CHECKS = [create_and_get_lock, tickets_in_order, expired_tickets_are_dropped, turns_one_at_a_time, key_prefix]
