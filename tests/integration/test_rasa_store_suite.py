"""Rasa's tracker-store and lock-store behaviour (tests/rasa_suite/), checked on Rasa's classes and ours alike.

Every check runs on Rasa's `SQLTrackerStore` / `RedisLockStore` and on the project's `CachingSQLTrackerStore` /
`RedisTicketLockStore`, built with the same arguments, on in-memory SQLite (`sqlite:///`), a SQLite file and a
real PostgreSQL, and on a real Redis: ours stand wherever Rasa's stand.
"""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.utils.endpoints import EndpointConfig

from conversation_stores.lock_store import RedisTicketLockStore
from conversation_stores.tracker_store import CachingSQLTrackerStore
from foundation.processes import free_port
from tests.rasa_suite import lock_store_checks, tracker_store_checks
from tests.support.redis import start_redis
from tests.unit.test_tracker_store import DOMAIN

TRACKER_STORES = {"rasa": SQLTrackerStore, "ours": CachingSQLTrackerStore}
LOCK_STORES = {"rasa": RedisLockStore, "ours": RedisTicketLockStore}
_databases = iter(range(10**6))


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    service.stop()


def where(database: str, tmp_path, postgres) -> dict:
    """The arguments that put a store on `database`; each test its own (a fresh PostgreSQL database too)."""
    if database == "memory":
        return {"host": "sqlite:///"}
    if database == "file":
        return {"dialect": "sqlite", "db": str(tmp_path / "rasa.db")}
    name = f"suite{next(_databases)}"
    return {
        "dialect": "postgresql",
        "host": "127.0.0.1",
        "port": postgres.port,
        "username": "postgres",
        "db": name,
        "login_db": "assistant",  # Rasa's way of creating the database on first use
    }


@pytest.mark.parametrize("check", tracker_store_checks.CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("database", ["memory", "file", "postgresql"])
@pytest.mark.parametrize("kind", TRACKER_STORES)
def test_tracker_store(kind, database, check, tmp_path, request):
    postgres = request.getfixturevalue("postgres") if database == "postgresql" else None
    options = where(database, tmp_path, postgres)
    built = []
    if database == "memory":
        # One in-memory database lives in one store's connection: "another process" is the same store there.
        only = TRACKER_STORES[kind](domain=DOMAIN, **options)
        built.append(only)

        def make_store(**extra):
            if "event_broker" in extra:
                only.event_broker = extra["event_broker"]
            return only
    else:

        def make_store(**extra):
            store = TRACKER_STORES[kind](domain=DOMAIN, **options, **extra)
            built.append(store)
            return store

    try:
        asyncio.run(check(make_store))
    finally:
        for store in built:
            store.engine.dispose()


@pytest.mark.parametrize("kind", TRACKER_STORES)
def test_tracker_store_from_its_endpoint(kind, tmp_path):
    """test_create_tracker_store_from_endpoint_config: `type: SQL` builds Rasa's; the module path builds ours."""
    type_name = "SQL" if kind == "rasa" else "conversation_stores.tracker_store.CachingSQLTrackerStore"
    config = EndpointConfig(type=type_name, dialect="sqlite", db=str(tmp_path / "endpoint.db"))
    store = TrackerStore.create(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)
    inner = getattr(inner, "_tracker_store", inner)
    assert type(inner) is TRACKER_STORES[kind]


@pytest.mark.parametrize("check", lock_store_checks.CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("kind", LOCK_STORES)
def test_lock_store(kind, check, redis_port):
    def make_store(**options):
        # Positional, as Rasa's own tests and code build RedisLockStore(host, port, db).
        return LOCK_STORES[kind]("127.0.0.1", options.pop("port", redis_port), 1, **options)

    check(make_store)


@pytest.mark.parametrize("kind", LOCK_STORES)
def test_lock_store_on_no_redis(kind):
    lock_store_checks.unreachable_redis_raises_lock_error(
        lambda **options: LOCK_STORES[kind]("127.0.0.1", options.pop("port"), 1, **options), free_port()
    )


@pytest.mark.parametrize("kind", LOCK_STORES)
def test_lock_store_from_its_endpoint(kind, redis_port):
    """test_create_lock_store_from_endpoint_config: `type: redis` builds Rasa's; the module path builds ours."""
    type_name = "redis" if kind == "rasa" else "conversation_stores.lock_store.RedisTicketLockStore"
    store = LockStore.create(EndpointConfig(url="127.0.0.1", type=type_name, port=redis_port, db=4, key_prefix="ep"))
    assert type(store) is LOCK_STORES[kind] and store.key_prefix == "ep:lock:"
    assert store.red.connection_pool.connection_kwargs["db"] == 4
