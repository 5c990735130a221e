"""The lock store when a replica dies holding a lock, and when Redis restarts: a real Redis, real processes.

A ticket is a lease its replica renews while the turn waits and runs (conversation_stores/lock_store.py): a
replica killed with `kill -9` frees its conversation within one lease, a live turn slower than the lease keeps
it. Redis calls that cannot reach Redis are retried for a bounded time, so a restart delays turns.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
import redis
from rasa.core.lock_store import LockError

from conversation_stores.lock_store import RedisTicketLockStore
from foundation.local_servers import redis_command
from foundation.processes import ChildProcess
from tests.support.processes import REPO
from tests.support.redis import start_redis
from tests.unit.test_tracker_store import run

LEASE = 1.0


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    service.stop()


def store(port, **options):
    options.setdefault("lock_lease", LEASE)
    return RedisTicketLockStore(host="127.0.0.1", port=port, db=1, key_prefix="lease", **options)


def live_tickets(port, conversation):
    lock = store(port).get_lock(conversation)
    return [] if lock is None else [ticket.number for ticket in lock.tickets if not ticket.has_expired()]


# A replica in a process of its own: takes the conversation's lock, says so, and holds it until killed.
HOLDER = """
import asyncio, sys
from conversation_stores.lock_store import RedisTicketLockStore

async def hold():
    store = RedisTicketLockStore("127.0.0.1", int(sys.argv[1]), 1, key_prefix="lease", lock_lease=float(sys.argv[3]))
    async with store.lock(sys.argv[2]):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(hold())
"""


def test_a_replica_killed_holding_the_lock_frees_it_within_one_lease_and_holds_it_while_alive(redis_port):
    conversation = f"killed-{uuid.uuid4().hex[:8]}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(redis_port), conversation, str(LEASE)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        served = {}

        async def next_turn():
            async with store(redis_port).lock(conversation, wait_time_in_seconds=0.05):
                served["at"] = time.monotonic()

        async def scenario():
            waiting = asyncio.ensure_future(next_turn())
            await asyncio.sleep(3 * LEASE)  # the holder is alive: it renews, and the next turn waits
            assert not waiting.done() and live_tickets(redis_port, conversation) == [0, 1]
            holder.kill()  # kill -9: the holder stops renewing and never gives its ticket back
            killed = time.monotonic()
            await waiting
            return served["at"] - killed

        freed_after = run(scenario())
    finally:
        holder.kill()
        holder.wait()
    assert freed_after <= LEASE + 0.5, freed_after
    assert live_tickets(redis_port, conversation) == []


def test_a_turn_slower_than_the_lease_keeps_the_lock_and_its_waiter_keeps_its_place(redis_port):
    conversation = f"slow-{uuid.uuid4().hex[:8]}"
    log = []

    async def turn(name, hold):
        async with store(redis_port).lock(conversation, wait_time_in_seconds=0.05):
            log.append(f"{name} in")
            await asyncio.sleep(hold)
            log.append(f"{name} out")

    async def scenario():
        first = asyncio.ensure_future(turn("slow", 3 * LEASE))
        while "slow in" not in log:
            await asyncio.sleep(0.01)
        await asyncio.gather(first, turn("next", 0.01))

    run(scenario())
    assert log == ["slow in", "slow out", "next in", "next out"]


def test_the_lock_is_held_no_longer_than_rasas_lock_lifetime(redis_port):
    conversation = f"capped-{uuid.uuid4().hex[:8]}"

    async def stuck_turn():
        async with store(redis_port).lock(conversation, lock_lifetime=1.5, wait_time_in_seconds=0.05):
            await asyncio.sleep(1.5 + 2 * LEASE)
            return live_tickets(redis_port, conversation)

    assert run(stuck_turn()) == []  # renewed up to the lifetime, then left to lapse


def test_a_waiter_whose_ticket_vanished_draws_a_new_one(redis_port):
    """What a Redis restart without persistence does to a waiting turn: its ticket is gone with the key."""
    conversation = f"vanished-{uuid.uuid4().hex[:8]}"
    ours = store(redis_port)
    ours.issue_ticket(conversation, lock_lifetime=60)  # held by a replica running Rasa's store

    async def next_turn():
        async def forget_the_lock():
            await asyncio.sleep(0.5)
            ours.red.delete(ours.key_prefix + conversation)

        forgetting = asyncio.ensure_future(forget_the_lock())
        started = time.monotonic()
        async with ours.lock(conversation, wait_time_in_seconds=0.05):
            waited = time.monotonic() - started
        await forgetting
        return waited

    waited = run(next_turn())
    assert 0.4 < waited < 2, waited


def restart_redis(service: ChildProcess, port: int, directory, down_seconds: float) -> ChildProcess:
    """Stop Redis (SIGTERM, as `make chaos` does) and start it again on the same port after `down_seconds`."""
    service.stop()
    time.sleep(down_seconds)
    again = ChildProcess("redis", redis_command(port, directory), log_path=directory / "redis.log")
    again.wait_until(lambda: redis.Redis(host="127.0.0.1", port=port).ping(), 30, condition="answering PING")
    return again


def test_a_lock_taken_while_redis_restarts_waits_for_it_instead_of_failing(tmp_path):
    service, port = start_redis(tmp_path)
    conversation = f"restart-{uuid.uuid4().hex[:8]}"
    try:
        patient = store(port, retry_seconds=10)
        patient.red.ping()  # connected before Redis goes away: the pooled connection breaks, too
        service.stop()

        async def turn():
            started = time.monotonic()
            async with patient.lock(conversation, wait_time_in_seconds=0.05):
                return time.monotonic() - started

        async def scenario():
            taking = asyncio.ensure_future(turn())
            await asyncio.sleep(0.2)
            assert not taking.done()
            restarted = await asyncio.get_running_loop().run_in_executor(
                None, restart_redis, service, port, tmp_path, 1.5
            )
            return await taking, restarted

        waited, service = run(scenario())
        assert waited > 1.5, waited
        assert live_tickets(port, conversation) == []  # given back after the restart

        impatient = store(port, retry_seconds=0.5)
        service.stop()
        started = time.monotonic()
        with pytest.raises(LockError):
            run(impatient.lock(conversation).__aenter__())
        assert time.monotonic() - started < 3
    finally:
        service.stop()
