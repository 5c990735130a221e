"""The project's tracker and lock stores on the real servers production uses: PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid

import psycopg2
import pytest
import redis
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig

from conversation_stores.lock_store import RedisTicketLockStore
from conversation_stores.tracker_store import CachingSQLTrackerStore
from tests.support.postgres import scalar, tracker_store_on
from tests.support.processes import REPO
from tests.support.redis import start_redis
from tests.unit.test_tracker_store import DOMAIN, begin, dicts, run, say, start_session, take_turns


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    service.stop()


def pg_store(postgres, cls=CachingSQLTrackerStore):
    return tracker_store_on(postgres.port, DOMAIN, cls, password="")


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
    assert isinstance(inner, CachingSQLTrackerStore) and (inner.cache_size, inner.cache_events) == (1000, 100_000)
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
        # Rasa's own store in the middle: a rolling update has both kinds of replica on one Redis. Each message
        # arrives while the one before holds the lock (ours draws its ticket off the event loop, so messages
        # started in one instant may draw in any order, as messages reaching two replicas at once do).
        first = asyncio.ensure_future(turn(ours(redis_port), "a", 0.3))
        while "a in" not in log:
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(turn(theirs(redis_port), "b", 0.03))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, second, turn(ours(redis_port), "c", 0.01))

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


def application_store(postgres, name, **kwargs):
    """Our store on PostgreSQL with its connections named, so pg_stat_activity can count them."""
    return tracker_store_on(postgres.port, DOMAIN, query={"application_name": name}, **kwargs)


def backends(postgres, name):
    return scalar(postgres.port, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", name)


def test_one_pool_holds_every_connection_and_dispose_closes_them_all(postgres):
    name = f"pool-{uuid.uuid4().hex[:8]}"
    store = application_store(postgres, name)

    async def conversations_at_once():
        async def one(sender):
            await begin(store, sender)
            for turn in range(3):
                tracker = await store.retrieve(sender)
                say(tracker, f"where is {40000 + turn}", str(40000 + turn))
                await store.save(tracker)

        await asyncio.gather(*(one(f"pool-{index}-{name}") for index in range(6)))

    run(conversations_at_once())
    held = backends(postgres, name)
    # Every connection the store opened is one of its engine's pool: none of a second engine.
    assert 1 <= held == store.engine.pool.checkedin() and store.engine.pool.checkedout() == 0
    with store.engine.connect() as connection:  # autocommit was this checkout's only, not the pool's
        assert connection.connection.autocommit is False
    store.dispose()
    deadline = time.monotonic() + 5  # a server process leaves pg_stat_activity a moment after its client closed
    while backends(postgres, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends(postgres, name) == 0


def ticks_while(coroutine_factory):
    """How long the coroutine took, and how often another task of the same loop ran meanwhile (every 10 ms)."""

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)
        ticks, started = 0, time.monotonic()
        await coroutine_factory()
        waited = time.monotonic() - started
        ticking.cancel()
        return waited, ticks

    return run(scenario())


def test_a_turn_waiting_on_postgresql_leaves_the_event_loop_free(postgres):
    sender = f"wait-{uuid.uuid4().hex[:8]}"
    results = {}
    for threads in (4, 0):  # ours, then the way Rasa's store waits (on the loop)
        store = pg_store(postgres) if threads else application_store(postgres, "blocking", io_threads=0)
        run(begin(store, f"{sender}-{threads}"))
        admin = psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="assistant")
        admin.cursor().execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # held until the commit below
        threading.Timer(0.5, admin.commit).start()
        results[threads] = ticks_while(lambda store=store, threads=threads: store.retrieve(f"{sender}-{threads}"))
        admin.close()
        store.dispose()
    (waited, ticks), (blocked_waited, blocked_ticks) = results[4], results[0]
    assert waited > 0.4 and ticks >= 20  # the loop ran other work every 10 ms while the read waited
    assert blocked_waited > 0.4 and blocked_ticks <= 2  # the bite: on the loop, nothing else ran


def test_a_turn_waiting_on_redis_leaves_the_event_loop_free(redis_port):
    admin = redis.Redis(host="127.0.0.1", port=redis_port)
    results = {}
    for threads in (4, 0):
        store = RedisTicketLockStore("127.0.0.1", redis_port, 1, key_prefix="test", io_threads=threads)
        store.red.ping()  # connected before Redis pauses its clients

        async def one_turn(store=store):
            async with store.lock(f"c-{uuid.uuid4().hex[:8]}"):
                pass

        admin.execute_command("CLIENT", "PAUSE", 500, "ALL")
        results[threads] = ticks_while(one_turn)
        store.dispose()
    (waited, ticks), (blocked_waited, blocked_ticks) = results[4], results[0]
    assert waited > 0.4 and ticks >= 20
    assert blocked_waited > 0.4 and blocked_ticks <= 2


def test_the_lock_store_takes_rasas_arguments_in_rasas_order(redis_port):
    ours_parameters = inspect.signature(RedisTicketLockStore.__init__).parameters
    theirs_parameters = inspect.signature(RedisLockStore.__init__).parameters
    positional = [p for p in ours_parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [(p.name, p.default) for p in positional] == [(p.name, p.default) for p in theirs_parameters.values()]
    store = RedisTicketLockStore("127.0.0.1", redis_port, 2)  # as RedisLockStore(host, port, db) is built
    assert store.red.connection_pool.connection_kwargs["db"] == 2
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    assert store.issue_ticket(conversation) == 0
    assert RedisLockStore("127.0.0.1", redis_port, 2).get_lock(conversation).last_issued == 0
    endpoint = EndpointConfig(url="127.0.0.1", port=redis_port, db=3, key_prefix="endpoint", io_threads=0)
    for built in (RedisTicketLockStore(endpoint_config=endpoint), RedisTicketLockStore(endpoint)):
        assert built.red.connection_pool.connection_kwargs["db"] == 3 and built.key_prefix == "endpoint:lock:"
        assert built._calls.threads == 0
    store.dispose()


def test_a_turn_waiting_on_a_dead_replicas_ticket_is_served_once_that_ticket_expires(redis_port):
    """A replica killed mid-turn never gives its ticket back: the next turn is served when that ticket expires,
    not when its own does (Rasa serves the first ticket in the lock, expired or not)."""
    conversation = f"dead-{uuid.uuid4().hex[:8]}"
    store = ours(redis_port)
    store.issue_ticket(conversation, lock_lifetime=0.5)  # the dead replica's turn, never cleaned up

    async def next_turn():
        started = time.monotonic()
        async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.05):
            return time.monotonic() - started

    waited = run(next_turn())
    assert 0.4 <= waited < 5, waited
