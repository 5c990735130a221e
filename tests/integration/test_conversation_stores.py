"""The project's tracker and lock stores on the real servers production uses: PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints

from conversation_stores.lock_store import RedisTicketLockStore
from conversation_stores.tracker_store import CachingSQLTrackerStore
from tests.support.processes import REPO
from tests.support.redis import start_redis
from tests.unit.test_tracker_store import DOMAIN, begin, dicts, run, say, start_session, take_turns


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    service.stop()


def pg_store(postgres, cls=CachingSQLTrackerStore):
    return cls(
        domain=DOMAIN,
        dialect="postgresql",
        host="127.0.0.1",
        port=postgres.port,
        db="assistant",
        username="postgres",
        password="",
    )


def test_replicas_on_postgresql_see_what_rasa_would_build(postgres):
    sender = f"shopper-{uuid.uuid4().hex[:8]}"

    async def scenario():
        a, b, rasa = pg_store(postgres), pg_store(postgres), pg_store(postgres, SQLTrackerStore)
        await begin(a, sender)
        await take_turns((a, b), rasa, sender, 6, first_order=30000)
        other = await b.retrieve(sender)
        start_session(other)  # a new session, stored by b
        await b.save(other)
        mine = await a.retrieve(sender)
        assert dicts(mine) == dicts(await rasa.retrieve(sender)) and len(mine.events) == 2
        return a.stats, b.stats

    a_stats, b_stats = run(scenario())
    assert a_stats["incremental_reads"] == 3 and a_stats["full_reads"] == 1 and a_stats["counted_saves"] == 0
    assert b_stats["incremental_reads"] == 3 and b_stats["full_reads"] == 1


def ours(port):
    return RedisTicketLockStore(host="127.0.0.1", port=port, db=1, key_prefix="test")


def test_the_production_endpoints_build_both_stores_from_the_environment(monkeypatch, postgres, redis_port):
    """docker/endpoints.production.yml, read by Rasa as `rasa run --endpoints` reads it, on the real servers."""
    for name, value in {
        "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
        "TRACKER_DB_HOST": "127.0.0.1",
        "TRACKER_DB_PORT": str(postgres.port),
        "TRACKER_DB_NAME": "assistant",
        "TRACKER_DB_USER": "postgres",
        "TRACKER_DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "REDIS_PASSWORD": "",
        "ACTION_SERVER_TOKEN": "test-token",
        "RABBITMQ_HOST": "127.0.0.1",
        "RABBITMQ_PORT": "5672",
        "RABBITMQ_USERNAME": "larkspur",
        "RABBITMQ_PASSWORD": "test-password",
    }.items():
        monkeypatch.setenv(name, value)
    config = AvailableEndpoints.read_endpoints(str(REPO / "docker" / "endpoints.production.yml"))
    tracker_store = TrackerStore.create(config.tracker_store, DOMAIN)
    lock_store = LockStore.create(config.lock_store)
    inner = getattr(tracker_store, "_tracker_store", tracker_store)
    inner = getattr(inner, "_tracker_store", inner)  # Rasa wraps it (awaitable, fail-safe)
    assert isinstance(inner, CachingSQLTrackerStore) and inner.cache_size == 1000
    assert isinstance(lock_store, RedisTicketLockStore) and lock_store.key_prefix == "larkspur:lock:"
    sender = f"prod-{uuid.uuid4().hex[:8]}"
    assert lock_store.issue_ticket(sender) == 0 and lock_store.red.exists(f"larkspur:lock:{sender}")

    async def store_and_read():
        tracker = await tracker_store.get_or_create_tracker(sender)
        say(tracker, "where is 10001", "10001")
        await tracker_store.save(tracker)
        return dicts(await pg_store(postgres, SQLTrackerStore).retrieve(sender))

    assert len(run(store_and_read())) == 1 + 5
    monkeypatch.delenv("REDIS_HOST")
    with pytest.raises(Exception, match="REDIS_HOST"):
        AvailableEndpoints.read_endpoints(str(REPO / "docker" / "endpoints.production.yml"))


def theirs(port):
    return RedisLockStore(host="127.0.0.1", port=port, db=1, key_prefix="test")


def test_turns_of_one_conversation_run_one_at_a_time_in_order(redis_port):
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    log = []

    async def turn(store, name, hold):
        async with store.lock(conversation, wait_time_in_seconds=0.01):
            log.append(f"{name} in")
            await asyncio.sleep(hold)
            log.append(f"{name} out")

    async def scenario():
        # Rasa's own store in the middle: a rolling update has both kinds of replica on one Redis.
        await asyncio.gather(
            turn(ours(redis_port), "a", 0.05), turn(theirs(redis_port), "b", 0.03), turn(ours(redis_port), "c", 0.01)
        )

    run(scenario())
    assert log == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert ours(redis_port).red.get(ours(redis_port).key_prefix + conversation) is None  # given back, key gone


def test_tickets_drawn_at_the_same_moment_are_all_different(redis_port):
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    stores = [ours(redis_port) for _ in range(8)]
    drawn, barrier = [], threading.Barrier(len(stores))

    def draw(store):
        barrier.wait()
        for _ in range(25):
            drawn.append(store.issue_ticket(conversation, lock_lifetime=60))

    threads = [threading.Thread(target=draw, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(drawn) == list(range(200))
    lock = theirs(redis_port).get_lock(conversation)  # and Rasa's store reads what ours wrote
    assert [ticket.number for ticket in lock.tickets] == list(range(200))


def test_a_ticket_whose_holder_died_expires(redis_port):
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    store = ours(redis_port)
    store.issue_ticket(conversation, lock_lifetime=0.3)  # a replica that crashed while holding the lock

    async def next_turn():
        started = time.monotonic()
        async with store.lock(conversation, lock_lifetime=60, wait_time_in_seconds=0.05) as lock:
            assert not lock.is_locked(lock.now_serving)
            return time.monotonic() - started

    waited = run(next_turn())
    assert 0.2 < waited < 5
    assert store.red.get(store.key_prefix + conversation) is None
