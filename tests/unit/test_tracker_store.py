"""The caching SQL tracker store gives every turn the tracker Rasa's SQL store would build, and stores the
same rows, while reading only what another replica added (SQLite here; PostgreSQL in tests/integration)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from conversation_stores.tracker_store import CachingSQLTrackerStore
from tests.support.processes import REPO

DOMAIN = Domain.load(str(REPO / "domain.yml"))


class ListBroker(EventBroker):
    """An event broker that remembers what it was sent."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def run(coroutine):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def stores(path, count=2, **kwargs):
    return [CachingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path), **kwargs) for _ in range(count)]


def rasas(path, **kwargs):
    return SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path), **kwargs)


def start_session(tracker):
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)


def say(tracker, text: str, order_id: str):
    tracker.update(
        UserUttered(
            text,
            {"name": "check_order_status", "confidence": 0.93},
            [{"entity": "order_id", "value": order_id, "start": 0, "end": 5}],
        )
    )
    tracker.update(ActionExecuted("action_order_status"))
    tracker.update(SlotSet("order_id", order_id))
    tracker.update(BotUttered(f"Order {order_id} shipped on Monday."))
    tracker.update(ActionExecuted("action_listen"))


def dicts(tracker):
    return [event.as_dict() for event in tracker.events]


async def begin(store, sender="shopper"):
    """A conversation as it starts: created, its session started, saved."""
    tracker = await store.get_or_create_tracker(sender)
    start_session(tracker)
    await store.save(tracker)
    return tracker


async def take_turns(replicas, rasa, sender, turns: int, first_order: int):
    """The replicas answer one turn each in rotation; every read must be what Rasa's store reads."""
    for turn in range(turns):
        store = replicas[turn % len(replicas)]
        tracker = await store.get_or_create_tracker(sender)
        assert dicts(tracker) == dicts(await rasa.retrieve(sender)), f"turn {turn}"
        say(tracker, f"where is order {first_order + turn}", str(first_order + turn))
        await store.save(tracker)


def rows(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(row) for row in found]


def test_two_replicas_taking_turns_see_what_rasa_would_build(tmp_path):
    async def scenario():
        a, b = stores(tmp_path / "t.db")
        rasa = rasas(tmp_path / "t.db")
        await begin(a)
        await take_turns((a, b), rasa, "shopper", 6, first_order=10000)
        final = await a.retrieve("shopper")
        assert dicts(final) == dicts(await rasa.retrieve("shopper"))
        assert final.get_slot("order_id") == "10005"
        return a.stats, b.stats

    a_stats, b_stats = run(scenario())
    # The replica that began the conversation never read it whole; the other did once. Then each only read
    # the other's turns: five rows a turn, applied to the tracker it had handed out (all but the first turn:
    # the session's start left the tracker that started it holding the session before).
    assert a_stats == {
        "incremental_reads": 4,
        "full_reads": 0,
        "rows_read": 3 * 5,
        "counted_saves": 0,
        "reused_trackers": 3,
    }
    assert b_stats["full_reads"] == 1 and b_stats["incremental_reads"] == 2 and b_stats["counted_saves"] == 0


def test_the_same_rows_as_rasas_store(tmp_path):
    async def conversation(store):
        await begin(store)
        for turn in range(3):
            tracker = await store.retrieve("shopper")
            say(tracker, f"and order 2000{turn}?", f"2000{turn}")
            await store.save(tracker)

    run(conversation(stores(tmp_path / "ours.db", count=1)[0]))
    run(conversation(rasas(tmp_path / "rasa.db")))
    ours, theirs = rows(tmp_path / "ours.db"), rows(tmp_path / "rasa.db")
    assert len(ours) == len(theirs) == 1 + 3 + 3 * 5
    strip = lambda found: [(s, t, i, a) for s, t, _, i, a, _ in found]  # noqa: E731 (timestamps differ)
    assert strip(ours) == strip(theirs)


def test_a_new_session_from_another_replica_starts_the_read_there(tmp_path):
    async def scenario():
        a, b = stores(tmp_path / "t.db")
        rasa = rasas(tmp_path / "t.db")
        tracker = await a.get_or_create_tracker("shopper")
        start_session(tracker)
        say(tracker, "where is 10001", "10001")
        await a.save(tracker)
        assert len((await a.retrieve("shopper")).events) == 7  # from session_started on
        await a.save(await a.retrieve("shopper"))
        other = await b.retrieve("shopper")
        start_session(other)  # b starts a new session (the old one expired)
        say(other, "where is 10002", "10002")
        await b.save(other)
        mine = await a.retrieve("shopper")
        assert dicts(mine) == dicts(await rasa.retrieve("shopper"))
        assert mine.events[0].type_name == SessionStarted.type_name and len(mine.events) == 7
        return a.stats

    assert run(scenario())["full_reads"] == 1  # only after the other replica's new session


def test_a_tracker_it_did_not_hand_out_is_saved_as_rasa_does(tmp_path):
    async def scenario():
        (store,) = stores(tmp_path / "t.db", count=1)
        rasa = rasas(tmp_path / "t.db")
        await begin(store)
        first = await store.retrieve("shopper")
        second = await store.retrieve("shopper")  # a concurrent reader: its own tracker
        assert first is not second
        say(first, "where is 10003", "10003")
        await store.save(first)  # no longer the last one handed out: Rasa's count decides
        say(second, "where is 10004", "10004")
        await store.save(second)  # its events beyond the stored count: none new, as in Rasa
        return store.stats, dicts(await store.retrieve("shopper")), dicts(await rasa.retrieve("shopper"))

    stats, ours, theirs = run(scenario())
    assert stats["counted_saves"] == 2
    assert ours == theirs and len(ours) == 2 + 5  # session_started, action_listen and the first turn


def test_the_event_broker_gets_each_new_event_once(tmp_path):
    async def scenario(store):
        await begin(store)
        tracker = await store.retrieve("shopper")
        say(tracker, "where is 10005", "10005")
        await store.save(tracker)
        await store.save(tracker)  # nothing new
        return [(event["event"], event.get("name")) for event in store.event_broker.published]

    ours = run(scenario(stores(tmp_path / "ours.db", count=1, event_broker=ListBroker())[0]))
    theirs = run(scenario(rasas(tmp_path / "rasa.db", event_broker=ListBroker())))
    assert ours == theirs and len(ours) == 1 + 3 + 5


async def touch(store, senders):
    """One turn for each sender in turn, as replicas serve them."""
    for sender in senders:
        tracker = await store.get_or_create_tracker(sender)
        say(tracker, "hi", "10006")
        await store.save(tracker)


def test_the_cache_is_bounded_and_can_be_switched_off(tmp_path):
    (small,) = stores(tmp_path / "small.db", count=1, cache_size=2)
    run(touch(small, ["a", "b", "c"]))
    assert list(small._sessions) == ["b", "c"]
    (off,) = stores(tmp_path / "off.db", count=1, cache_size=0)
    run(touch(off, ["a", "a"]))
    assert not off._sessions and off.stats["full_reads"] == 0  # Rasa's own store did the work
    with pytest.raises(ValueError, match="cache_size"):
        stores(tmp_path / "bad.db", count=1, cache_size=-1)


def test_the_cache_holds_at_most_its_events_and_always_the_conversation_just_used(tmp_path):
    (probe,) = stores(tmp_path / "probe.db", count=1)
    run(touch(probe, ["a"]))
    per_conversation = probe._cached_events  # a new conversation's first turn
    (store,) = stores(tmp_path / "events.db", count=1, cache_events=2 * per_conversation)
    run(touch(store, ["a", "b", "c"]))
    assert list(store._sessions) == ["b", "c"] and store._cached_events == 2 * per_conversation
    run(touch(store, ["b"] * 3))  # b grows past the budget alone: c goes, b stays
    assert list(store._sessions) == ["b"] and store._cached_events == len(store._sessions["b"].rows)
    assert store._cached_events > 2 * per_conversation
    run(touch(store, ["b"]))
    assert store.stats["reused_trackers"] >= 4  # b still came from the cache
    with pytest.raises(ValueError, match="cache_events"):
        stores(tmp_path / "bad.db", count=1, cache_events=0)


def test_a_new_conversation_is_stored_without_counting_rows(tmp_path):
    async def scenario():
        (store,) = stores(tmp_path / "t.db", count=1)
        # As Rasa's processor creates it: empty, saved, then the session starts and the first turn runs.
        tracker = await store.get_or_create_tracker("new-shopper", append_action_listen=False)
        start_session(tracker)
        say(tracker, "where is 10007", "10007")
        await store.save(tracker)
        again = await store.retrieve("new-shopper")
        return store.stats, dicts(again), dicts(await rasas(tmp_path / "t.db").retrieve("new-shopper"))

    stats, ours, theirs = run(scenario())
    assert stats["counted_saves"] == 0 and stats["full_reads"] == 0
    assert ours == theirs and len(ours) == 2 + 5


@pytest.mark.parametrize("where", [{"host": "sqlite:///"}, {"dialect": "sqlite", "db": ""}])
def test_an_in_memory_sqlite_database_keeps_what_was_saved(where):
    """`sqlite:///` is one database per connection: every read must see the rows the saves wrote."""

    async def scenario():
        store = CachingSQLTrackerStore(domain=DOMAIN, **where)
        rasa = SQLTrackerStore(domain=DOMAIN, **where)  # Rasa's: its own, separate in-memory database
        for found in (store, rasa):
            await begin(found)
            for turn in range(3):
                tracker = await found.retrieve("shopper")
                say(tracker, f"where is {30000 + turn}", str(30000 + turn))
                await found.save(tracker)
        ours, theirs = await store.retrieve("shopper"), await rasa.retrieve("shopper")
        fresh = CachingSQLTrackerStore(domain=DOMAIN, cache_size=0, **where)  # a full read, not the cache
        return store, dicts(ours), dicts(theirs), await fresh.retrieve("shopper")

    store, ours, theirs, elsewhere = run(scenario())
    strip = lambda found: [{k: v for k, v in event.items() if k != "timestamp"} for event in found]  # noqa: E731
    assert len(ours) == 2 + 3 * 5 and strip(ours) == strip(theirs)
    assert store.stats["incremental_reads"] == 4 and store._calls.threads == 0  # served on the caller's thread
    assert elsewhere is None  # another store's in-memory database is its own, as with Rasa's


def test_io_threads_fit_the_database(tmp_path):
    (file_store,) = stores(tmp_path / "t.db", count=1, io_threads=8)
    assert file_store._calls.threads == 1  # one writer at a time
    with pytest.raises(ValueError, match="io_threads"):
        stores(tmp_path / "bad.db", count=1, io_threads=-1)
    file_store.dispose()


def test_the_next_turn_gets_the_same_tracker_brought_up_to_date(tmp_path):
    async def scenario():
        a, b = stores(tmp_path / "t.db")
        rasa = rasas(tmp_path / "t.db")
        await begin(a)
        first = await a.retrieve("shopper")
        say(first, "where is 10001", "10001")
        await a.save(first)
        again = await a.retrieve("shopper")
        assert again is first  # nothing stored since: the very tracker, no row deserialised
        say(again, "and 10002", "10002")
        await a.save(again)
        other = await b.retrieve("shopper")  # another replica's turn in between
        say(other, "and 10003", "10003")
        await b.save(other)
        caught_up = await a.retrieve("shopper")
        assert caught_up is first
        assert dicts(caught_up) == dicts(await rasa.retrieve("shopper"))
        assert caught_up.get_slot("order_id") == "10003" and caught_up.latest_message.text == "and 10003"
        return a.stats

    stats = run(scenario())
    assert stats["reused_trackers"] == 2 and stats["rows_read"] == 5


def test_a_tracker_changed_but_not_saved_is_built_again_from_the_rows(tmp_path):
    async def scenario():
        (store,) = stores(tmp_path / "t.db", count=1)
        rasa = rasas(tmp_path / "t.db")
        await begin(store)
        tracker = await store.retrieve("shopper")
        await store.save(tracker)
        failed_turn = await store.retrieve("shopper")
        say(failed_turn, "where is 10009", "10009")  # the turn fails before it saves
        fresh = await store.retrieve("shopper")
        assert fresh is not failed_turn
        assert dicts(fresh) == dicts(await rasa.retrieve("shopper")) and fresh.get_slot("order_id") is None
        reader = await store.retrieve("shopper")  # lent and not saved yet: a second reader gets its own
        assert reader is not fresh and dicts(reader) == dicts(fresh)

    run(scenario())
