"""What Rasa's SQL tracker store does, as checks that any tracker store class built like it must pass.

Each check is a coroutine taking a `make_store(**options)` that builds the class under test on one database
(every call of one test on the same database), and restates one behaviour of Rasa's `SQLTrackerStore` tested in
Rasa's `tests/core/test_tracker_stores.py` (the test named in the docstring). Written for this project:
SOURCE.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

MakeStore = Callable[..., Any]


class ListBroker(EventBroker):
    """An event broker that remembers what it was sent."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def turn(text: str) -> list:
    return [
        UserUttered(text, {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        BotUttered("Hello!"),
        ActionExecuted(ACTION_LISTEN_NAME),
    ]


def session_start() -> list:
    return [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]


def without_timestamps(events) -> list[dict]:
    return [{key: value for key, value in event.as_dict().items() if key != "timestamp"} for event in events]


async def storage_and_retrieval(make_store: MakeStore) -> None:
    """test_tracker_store_storage_and_retrieval: a new tracker holds action_listen; what is saved comes back."""
    store = make_store()
    tracker = await store.get_or_create_tracker("one")
    assert [event.as_dict()["name"] for event in tracker.events] == [ACTION_LISTEN_NAME]
    for event in turn("hi"):
        tracker.update(event)
    await store.save(tracker)
    again = await store.retrieve("one")
    assert again is not None and again.sender_id == "one"
    assert without_timestamps(again.events) == without_timestamps(tracker.events)
    assert await store.retrieve("nobody") is None


async def additional_events(make_store: MakeStore) -> None:
    """test_sql_additional_events: saving a tracker again stores only the events it gained."""
    store = make_store()
    tracker = await store.get_or_create_tracker("two")
    for event in turn("hi"):
        tracker.update(event)
    await store.save(tracker)
    retrieved = await store.retrieve("two")
    for event in [SlotSet("order_id", "10001"), *turn("again")]:
        retrieved.update(event)
    await store.save(retrieved)
    fresh = make_store()  # another process on the same database reads what was stored
    assert len((await fresh.retrieve("two")).events) == 1 + 4 + 1 + 4


async def retrieve_starts_at_the_latest_session(make_store: MakeStore) -> None:
    """test_tracker_store_retrieve_with_session_started_events: a retrieve begins at the last session_started."""
    store = make_store()
    tracker = await store.get_or_create_tracker("three", append_action_listen=False)
    for event in [*session_start(), *turn("first"), *session_start(), *turn("second")]:
        tracker.update(event)
    await store.save(tracker)
    events = (await make_store().retrieve("three")).events
    assert isinstance(events[0], SessionStarted) and len(events) == 1 + 1 + 4
    assert events[2].text == "second"


async def retrieve_without_sessions_is_everything(make_store: MakeStore) -> None:
    """test_tracker_store_retrieve_without_session_started_events: no session_started, every event."""
    store = make_store()
    tracker = await store.get_or_create_tracker("four", append_action_listen=False)
    for event in [*turn("a"), *turn("b")]:
        tracker.update(event)
    await store.save(tracker)
    assert len((await make_store().retrieve("four")).events) == 8


async def full_tracker_has_every_session(make_store: MakeStore) -> None:
    """test_tracker_store_retrieve_with_events_from_previous_sessions: retrieve_full_tracker reads all."""
    store = make_store()
    tracker = await store.get_or_create_tracker("five", append_action_listen=False)
    for event in [*session_start(), *turn("first"), *session_start(), *turn("second")]:
        tracker.update(event)
    await store.save(tracker)
    assert len((await make_store().retrieve_full_tracker("five")).events) == 2 * (3 + 4)
    assert len((await store.retrieve("five")).events) == 1 + 1 + 4


async def keys_and_exists(make_store: MakeStore) -> None:
    """test_get_db_keys / exists: the senders stored, and whether one is."""
    store = make_store()
    for sender in ("k1", "k2"):
        await store.get_or_create_tracker(sender)
    assert {"k1", "k2"} <= set(await store.keys())
    assert await store.exists("k1") and not await store.exists("k3")


async def new_events_are_streamed_once(make_store: MakeStore) -> None:
    """test_tracker_store_stream_events (Rasa's event broker docs): each new event goes to the broker once."""
    broker = ListBroker()
    store = make_store(event_broker=broker)
    tracker = await store.get_or_create_tracker("six")
    for event in turn("hi"):
        tracker.update(event)
    await store.save(tracker)
    await store.save(tracker)
    retrieved = await store.retrieve("six")
    retrieved.update(SlotSet("order_id", "1"))
    await store.save(retrieved)
    assert [event["event"] for event in broker.published] == ["action", "user", "action", "bot", "action", "slot"]


async def a_new_session_from_a_saved_tracker(make_store: MakeStore) -> None:
    """test_sql_get_events_with_multiple_sessions: after a new session is saved, reads begin there."""
    store = make_store()
    tracker = await store.get_or_create_tracker("seven", append_action_listen=False)
    for event in [*session_start(), *turn("first")]:
        tracker.update(event)
    await store.save(tracker)
    again = await store.retrieve("seven")
    for event in [*session_start(), *turn("second")]:
        again.update(event)
    await store.save(again)
    events = (await store.retrieve("seven")).events
    assert isinstance(events[0], SessionStarted) and [e.text for e in events if isinstance(e, UserUttered)] == [
        "second"
    ]


CHECKS = [
    storage_and_retrieval,
    additional_events,
    retrieve_starts_at_the_latest_session,
    retrieve_without_sessions_is_everything,
    full_tracker_has_every_session,
    keys_and_exists,
    new_events_are_streamed_once,
    a_new_session_from_a_saved_tracker,
]
