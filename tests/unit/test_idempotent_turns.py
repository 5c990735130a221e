"""A message whose turn is already stored (nginx's retry of a request a killed replica had answered) is answered
from the tracker store, not processed or stored again (rasa_runtime/idempotent_turns.py); every other message is
Rasa's, and with the switch off Rasa stores the retry a second time."""

from __future__ import annotations

import asyncio
import logging

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from conversation_stores.tracker_store import CachingSQLTrackerStore
from rasa_runtime import idempotent_turns
from rasa_runtime import patches as rasa_patches
from tests.support.processes import REPO

MODEL = REPO / "models" / "larkspur.tar.gz"
ORIGINALS = {name: MessageProcessor.__dict__[name] for name, _ in idempotent_turns.PATCHED}


def tracker_of(events: list) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("rest:someone", events)


def test_a_stored_text_is_the_incoming_one_as_typed_or_as_the_store_masks_it():
    assert idempotent_turns.same_text("how long does delivery take?", "how long does delivery take?")
    assert idempotent_turns.same_text("[code]", "123456")  # a one-time code, masked when the turn was saved
    assert idempotent_turns.same_text("it's [code]", "it's 123 456")
    assert idempotent_turns.same_text("paid with [card ending 4242]", "paid with 4242 4242 4242 4242")
    assert idempotent_turns.same_text("", "") and idempotent_turns.same_text(None, "")
    assert not idempotent_turns.same_text("yes", "no")
    assert not idempotent_turns.same_text("where is 10234?", "where is 10235?")


def test_only_the_last_user_event_with_the_same_id_and_text_is_an_answered_turn():
    greeting, answer = BotUttered("Hi!"), BotUttered("What can I do?", {"buttons": [{"title": "Orders"}]})
    events = [
        ActionExecuted("action_listen"),
        UserUttered("hi", message_id="m1"),
        ActionExecuted("utter_greet"),
        greeting,
        answer,
        ActionExecuted("action_listen"),
    ]
    assert idempotent_turns.stored_answers(tracker_of(events), "m1", "hi") == [greeting, answer]
    assert idempotent_turns.stored_answers(tracker_of(events), "m2", "hi") is None  # another message
    assert idempotent_turns.stored_answers(tracker_of(events), "m1", "hello") is None  # the id reused for new text
    assert idempotent_turns.stored_answers(tracker_of(events), None, "hi") is None
    later = [*events, UserUttered("thanks", message_id="m2"), BotUttered("You're welcome!")]
    assert idempotent_turns.stored_answers(tracker_of(later), "m1", "hi") is None  # not the last one any more
    assert idempotent_turns.stored_answers(tracker_of([SessionStarted()]), "m1", "hi") is None
    quiet = [UserUttered("hi", message_id="m1"), ActionExecuted("action_listen")]
    assert idempotent_turns.stored_answers(tracker_of(quiet), "m1", "hi") == []  # a turn that said nothing ran too


def test_the_patch_wraps_rasas_methods_once_and_undo_puts_them_back():
    try:
        rasa_patches.apply_all({variable: "off" for variable in rasa_patches.SWITCHES if "IDEMPOTENT" not in variable})
        rasa_patches.apply_all({variable: "off" for variable in rasa_patches.SWITCHES if "IDEMPOTENT" not in variable})
        for name, original in ORIGINALS.items():
            assert MessageProcessor.__dict__[name].__wrapped__ is original
    finally:
        idempotent_turns.undo()
    assert all(MessageProcessor.__dict__[name] is original for name, original in ORIGINALS.items())


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    """The trained model (make test trains it first) with our SQL tracker store on SQLite."""
    from rasa.core.agent import Agent

    from nlu_components import intent_classifier  # noqa: F401  (registers the project's components)

    if not MODEL.exists():
        pytest.skip("models/larkspur.tar.gz is missing: run `make train` (make test does)")
    agent = Agent.load(str(MODEL))
    store = CachingSQLTrackerStore(
        agent.domain, dialect="sqlite", db=str(tmp_path_factory.mktemp("idempotent") / "trackers.sqlite")
    )
    agent.processor.tracker_store = store
    return agent.processor


@pytest.fixture
def patched():
    idempotent_turns.answer_retries_from_the_store()
    yield
    idempotent_turns.undo()


def say(processor: MessageProcessor, sender: str, text: str, message_id: str | None = None) -> list[dict]:
    out = CollectingOutputChannel()
    message = UserMessage(text, out, sender, input_channel="rest", message_id=message_id)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(processor.handle_message(message))
    finally:
        loop.close()
    return out.messages


def stored(processor: MessageProcessor, sender: str) -> list:
    loop = asyncio.new_event_loop()
    try:
        tracker = loop.run_until_complete(processor.tracker_store.retrieve(sender))
    finally:
        loop.close()
    return list(tracker.events) if tracker else []


def user_texts(processor: MessageProcessor, sender: str) -> list[tuple[str, str]]:
    return [(e.text, e.message_id) for e in stored(processor, sender) if isinstance(e, UserUttered)]


@pytest.mark.slow  # loads the trained model
def test_the_same_message_twice_is_stored_once_and_answered_alike(processor, patched, caplog):
    sender = "rest:idempotent-same"
    first = say(processor, sender, "hi", "request-0001")
    events = len(stored(processor, sender))
    with caplog.at_level(logging.INFO, logger="rasa_runtime.idempotent_turns"):
        second = say(processor, sender, "hi", "request-0001")
    assert first and second == first
    assert user_texts(processor, sender) == [("hi", "request-0001")]
    assert len(stored(processor, sender)) == events  # nothing at all stored for the retry
    (line,) = [record for record in caplog.records if record.name == "rasa_runtime.idempotent_turns"]
    assert line.conversation and line.conversation != sender and "hi" not in line.getMessage()
    assert line.bot_messages == len(first)
    third = say(processor, sender, "thanks", "request-0002")  # the conversation goes on as Rasa's
    assert third and user_texts(processor, sender) == [("hi", "request-0001"), ("thanks", "request-0002")]


@pytest.mark.slow  # loads the trained model
def test_another_id_or_another_text_is_processed_as_usual(processor, patched):
    sender = "rest:idempotent-other"
    say(processor, sender, "hi", "request-0101")
    assert say(processor, sender, "hi", "request-0102")  # the shopper says it again: a new message
    assert say(processor, sender, "thanks", "request-0102")  # a client reusing an id for another text
    assert say(processor, sender, "thanks")  # no id from the channel: a fresh one
    texts = user_texts(processor, sender)
    assert [text for text, _ in texts] == ["hi", "hi", "thanks", "thanks"]
    assert texts[3][1] not in ("request-0101", "request-0102")


@pytest.mark.slow  # loads the trained model
def test_buttons_images_and_custom_payloads_are_sent_again_as_stored(processor, patched):
    sender = "rest:idempotent-payloads"
    buttons = [{"title": "Yes, connect me", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    answers = [
        BotUttered("Shall I connect you?", {"buttons": buttons}),
        BotUttered(None, {"custom": {"kind": "order_card", "order_id": "10001"}}),
        BotUttered("Your parcel:", {"image": "https://shop.example/parcel.png"}),
        BotUttered("The label:", {"attachment": "https://shop.example/label.pdf"}),
    ]
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("I want a person", {"name": "request_human", "confidence": 1.0}, message_id="request-0201"),
        ActionExecuted("action_handoff"),
        *answers,
        ActionExecuted("action_listen"),
    ]
    as_rasa_sends = CollectingOutputChannel()  # what Rasa's own turn sent (MessageProcessor._send_bot_messages)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(processor.tracker_store.save(DialogueStateTracker.from_events(sender, events)))
    for answer in answers:
        loop.run_until_complete(as_rasa_sends.send_response(sender, answer.message()))
    loop.close()
    before = stored(processor, sender)
    replayed = say(processor, sender, "I want a person", "request-0201")
    assert replayed == as_rasa_sends.messages  # a text with an image or attachment is two messages, as Rasa sends it
    sent = {key: message[key] for message in replayed for key in message if key != "recipient_id"}
    assert sent["buttons"] == buttons and sent["custom"] == {"kind": "order_card", "order_id": "10001"}
    assert sent["image"] == "https://shop.example/parcel.png"
    assert sent["attachment"] == "https://shop.example/label.pdf"
    assert len(stored(processor, sender)) == len(before) and any(e in before for e in answers)


@pytest.mark.slow  # loads the trained model
def test_switched_off_rasa_processes_the_retry_again_and_stores_it_twice(processor):
    assert "RASA_PATCH_IDEMPOTENT_TURNS" in rasa_patches.SWITCHES
    sender = "rest:idempotent-off"
    rasa_patches.apply_all({variable: "off" for variable in rasa_patches.SWITCHES})  # Rasa as it is
    assert all(MessageProcessor.__dict__[name] is original for name, original in ORIGINALS.items())
    say(processor, sender, "hi", "request-0301")
    say(processor, sender, "hi", "request-0301")
    assert user_texts(processor, sender) == [("hi", "request-0301"), ("hi", "request-0301")]


@pytest.mark.slow  # loads the trained model
def test_a_retry_is_counted_as_replayed_not_as_one_more_message_received(processor, patched):
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    from rasa_runtime import metrics

    applied_here = not hasattr(MessageProcessor.handle_message, "__wrapped__")
    metrics.export_metrics()
    try:

        def count(name: str) -> float:
            return metrics.REGISTRY.get_sample_value(name, {"channel": "rest"}) or 0.0

        def latencies() -> float:
            return metrics.REGISTRY.get_sample_value("assistant_turn_seconds_count", {"channel": "rest"}) or 0.0

        sender = "rest:idempotent-metrics"
        received, replayed, timed = (
            count("assistant_messages_received_total"),
            count("assistant_messages_replayed_total"),
            latencies(),
        )
        say(processor, sender, "hi", "request-0301")
        assert count("assistant_messages_received_total") == received + 1
        say(processor, sender, "hi", "request-0301")  # nginx's retry after the first replica died
        assert count("assistant_messages_received_total") == received + 1
        assert count("assistant_messages_replayed_total") == replayed + 1
        assert latencies() == timed + 1  # the retry's quick answer is not a turn's latency
        say(processor, sender, "thanks", "request-0302")
        assert count("assistant_messages_received_total") == received + 2
        assert count("assistant_messages_replayed_total") == replayed + 1
    finally:
        wrapped = ((MessageProcessor, "handle_message"), (MessageProcessor, "log_message"), (Agent, "handle_message"))
        for owner, name in wrapped if applied_here else ():  # Rasa's own methods again, as the other tests expect
            setattr(owner, name, getattr(owner, name).__wrapped__)
