"""analytics/mapping.py and analytics/store.py: broker events, built as Rasa's brokers publish them (an event's
`as_dict()` plus `sender_id`), become conversations and turns; each event counts once."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from analytics.mapping import channel_of, event_key, parse_payload
from analytics.store import AnalyticsStore
from analytics.summary import is_resolved

SENDER = "rest:Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"
SECRET = "test-conversation-ref-secret"


class Clock:
    """Event timestamps a test controls: each event a tenth of a second after the previous one."""

    def __init__(self) -> None:
        self.now = 1_796_000_000.0

    def stamp(self, event: Event, after: float = 0.1) -> Event:
        self.now += after
        event.timestamp = self.now
        return event


def published(sender: str, events: list[Event]) -> list[dict]:
    """The events as the SQL and RabbitMQ brokers publish them (rasa/core/tracker_store.py, stream_events)."""
    return [{"sender_id": sender, **event.as_dict()} for event in events]


def user(text: str, intent: str, entities: list | None = None) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": 0.93}, "entities": entities or [], "text": text}
    return UserUttered(text, parse["intent"], entities or [], parse_data=parse, input_channel="rest")


def bot(response: str, text: str = "...") -> BotUttered:
    return BotUttered(text, metadata={"utter_action": response})


@pytest.fixture
def store(tmp_path):
    found = AnalyticsStore(f"sqlite:///{tmp_path / 'analytics.sqlite'}", ref_secret=SECRET)
    yield found
    found.close()


def only(store: AnalyticsStore):
    (conversation,) = store.conversations()
    return conversation, store.turns()


@pytest.mark.parametrize(
    "sender, channel",
    [
        ("rest:abc", "rest"),
        ("slack:T1/C2/U3", "slack"),
        ("teams:29:1abc", "teams"),
        ("whatsapp:+31612345678", "whatsapp"),
        ("default", "other"),
        ("sms:+316", "other"),
    ],
)
def test_the_channel_comes_from_the_conversation_ids_prefix(sender, channel):
    assert channel_of(sender) == channel


def test_a_turn_is_the_message_and_the_answer_with_its_latency(store):
    clock = Clock()
    events = [
        clock.stamp(ActionExecuted("action_session_start")),
        clock.stamp(SessionStarted()),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("where is my order 10007?", "check_order_status")),
        clock.stamp(ActionExecuted("action_order_status"), after=0.4),
        clock.stamp(bot("utter_order_status", "Order 10007 is on its way."), after=0.2),
        clock.stamp(bot("utter_anything_else"), after=0.1),
        clock.stamp(ActionExecuted("action_listen")),
    ]
    assert store.count(published(SENDER, events)) == len(events)
    conversation, (turn,) = only(store)
    assert conversation.channel == "rest" and conversation.turns == 1 and conversation.ref != SENDER
    assert SENDER not in repr(conversation) + repr(turn)
    assert (turn.intent, turn.text, turn.bot_messages, turn.fallback) == (
        "check_order_status",
        "where is my order 10007?",
        2,
        None,
    )
    assert turn.latency_seconds == pytest.approx(0.7)
    assert conversation.last_step == "utter_anything_else"
    assert is_resolved(conversation, turn)


def test_the_same_events_fed_twice_count_once(store):
    clock = Clock()
    events = published(SENDER, [clock.stamp(user("hi", "greet")), clock.stamp(bot("utter_greet"))])
    assert store.count(events) == 2
    assert store.count(events) == 0
    assert store.count([*events, *events]) == 0
    conversation, turns = only(store)
    assert conversation.turns == 1 and len(turns) == 1 and turns[0].bot_messages == 1


def test_a_redelivered_event_inside_one_batch_counts_once(store):
    clock = Clock()
    (message,) = published(SENDER, [clock.stamp(user("hi", "greet"))])
    assert store.count([message, dict(message)]) == 1


def test_two_events_that_differ_only_in_content_are_two(store):
    first, second = published(SENDER, [user("hi", "greet"), user("hello", "greet")])
    second["timestamp"] = first["timestamp"]
    assert event_key(first, "ref") != event_key(second, "ref")
    assert store.count([first, second]) == 2


def test_nlu_and_core_fallbacks_and_a_clarifying_question_are_counted_per_turn(store):
    clock = Clock()
    events = [
        clock.stamp(user("blorp", "nlu_fallback")),
        clock.stamp(ActionExecuted("action_fallback")),
        clock.stamp(bot("utter_default")),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("it's about the thing", "check_order_status")),
        clock.stamp(ActionExecuted("action_fallback")),
        clock.stamp(bot("utter_clarify", "Do you mean your order or your refund?")),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("tell me a joke", "out_of_scope")),
        clock.stamp(ActionExecuted("action_fallback")),
        clock.stamp(bot("utter_out_of_scope")),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert [turn.fallback for turn in turns] == ["nlu", "core", None]
    assert [turn.clarified for turn in turns] == [False, True, False]
    assert (conversation.fallbacks, conversation.clarifications) == (2, 1)


def test_a_handoff_is_the_handoff_action_and_its_pause_with_the_reason_offered(store):
    clock = Clock()
    events = [
        clock.stamp(user("I was charged twice", "payment_issue")),
        clock.stamp(ActionExecuted("action_payment_issue")),
        clock.stamp(bot("utter_double_charge")),
        clock.stamp(SlotSet("pending", "handoff")),
        clock.stamp(SlotSet("handoff_reason", "double_charge:10007")),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("yes", "affirm")),
        clock.stamp(ActionExecuted("action_handoff")),
        clock.stamp(bot("utter_handoff_reply_by_email")),
        clock.stamp(SlotSet("pending", None)),
        clock.stamp(SlotSet("handoff_reason", None)),
        clock.stamp(SlotSet("handoff_ticket", "T-1")),
        clock.stamp(ConversationPaused()),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert conversation.handed_off and conversation.handoff_reason == "double_charge"
    assert [turn.handoff_reason for turn in turns] == [None, "double_charge"]
    assert not is_resolved(conversation, turns[-1])


def test_asking_for_a_person_is_a_customer_request_and_a_helpdesk_outage_is_no_handoff(store):
    clock = Clock()
    asked = [
        clock.stamp(user("I want a person", "human_handoff")),
        clock.stamp(ActionExecuted("action_handoff")),
        clock.stamp(bot("utter_handoff_reply_by_email")),
        clock.stamp(ConversationPaused()),
    ]
    down = [
        clock.stamp(user("a human please", "human_handoff")),
        clock.stamp(ActionExecuted("action_handoff")),
        clock.stamp(bot("utter_handoff_unavailable")),
        clock.stamp(ActionExecuted("action_listen")),
    ]
    store.count(published("rest:asked", asked) + published("slack:T/C/U", down))
    by_channel = {conversation.channel: conversation for conversation in store.conversations()}
    assert by_channel["rest"].handed_off and by_channel["rest"].handoff_reason == "customer_request"
    assert not by_channel["slack"].handed_off and by_channel["slack"].last_step == "utter_handoff_unavailable"


def test_a_code_typed_while_the_form_asks_for_it_is_masked_and_the_form_step_is_the_drop_off(store):
    clock = Clock()
    events = [
        clock.stamp(user("where is my refund?", "check_refund_status")),
        clock.stamp(ActionExecuted("service_form")),
        clock.stamp(SlotSet("requested_slot", "login_email")),
        clock.stamp(bot("utter_ask_login_email")),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("anna.bakker@example.com", "inform")),
        clock.stamp(SlotSet("login_email", "anna.bakker@example.com")),
        clock.stamp(SlotSet("requested_slot", "verification_code")),
        clock.stamp(bot("utter_ask_verification_code", "Thanks. If anna.bakker@example.com is on our records...")),
        clock.stamp(ActionExecuted("action_listen")),
        clock.stamp(user("386 278", "inform")),
        clock.stamp(SlotSet("requested_slot", "verification_code")),
        clock.stamp(bot("utter_ask_verification_code")),
    ]
    store.count(published("whatsapp:+31612345678", events))
    conversation, turns = only(store)
    assert [turn.text for turn in turns] == ["where is my refund?", "[email]", "[code]"]
    assert conversation.channel == "whatsapp" and conversation.requested_slot == "verification_code"
    assert conversation.last_step == "utter_ask_verification_code"
    assert not is_resolved(conversation, turns[-1])


def test_a_code_entity_marks_a_typed_code_outside_the_form_too(store):
    entity = {"entity": "verification_code", "value": "386 278", "start": 12, "end": 19}
    store.count(published(SENDER, [user("my code is 386 278", "inform", [entity])]))
    _conversation, (turn,) = only(store)
    assert turn.text == "my code is [code]"


def test_a_new_session_clears_what_the_dialogue_was_waiting_for(store):
    clock = Clock()
    events = [
        clock.stamp(user("cancel my order", "cancel_order")),
        clock.stamp(SlotSet("requested_slot", "order_id")),
        clock.stamp(SessionStarted(), after=4000),
        clock.stamp(user("hi", "greet")),
        clock.stamp(bot("utter_greet")),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert conversation.requested_slot is None and is_resolved(conversation, turns[-1])


def test_a_payload_that_is_not_an_event_is_skipped():
    assert parse_payload("not json") is None
    assert parse_payload("[1, 2]") is None
    assert parse_payload(b'{"event": "user"}') == {"event": "user"}


def test_a_csat_rating_is_the_conversations_rating_and_a_redelivery_changes_nothing(store):
    clock = Clock()
    events = published(
        SENDER,
        [
            clock.stamp(user("thanks, that's all", "thank")),
            clock.stamp(bot("utter_ask_csat_rating")),
            clock.stamp(SlotSet("csat_rating", 4)),
            clock.stamp(SlotSet("csat_comment", "fast, my number is +31 6 12345678")),
        ],
    )
    assert store.count(events) == 4
    assert store.count(events) == 0 and store.count(events[2:3]) == 0  # redelivered: counted once
    conversation, _ = only(store)
    assert conversation.csat == 4
    from analytics.summary import summarise

    summary = summarise(store.conversations(), store.turns())
    assert summary.csat_ratings == 1 and summary.csat_mean == 4
    assert "12345678" not in repr(store.conversations()) + repr(store.turns())  # the comment is not stored


@pytest.mark.parametrize(
    "value, rating",
    [(1, 1), (5, 5), (3.0, 3), ("2", 2), (0, None), (6, None), (2.5, None), ("great", None), (True, None)],
)
def test_only_a_whole_rating_from_one_to_five_counts(value, rating):
    from analytics.mapping import csat_rating

    assert csat_rating(value) == rating


def test_a_later_rating_replaces_the_first_and_an_emptied_slot_keeps_it(store):
    clock = Clock()
    events = [
        clock.stamp(user("bye", "goodbye")),
        clock.stamp(SlotSet("csat_rating", 2)),
        clock.stamp(SlotSet("csat_rating", 5)),
        clock.stamp(SlotSet("csat_rating", None)),
        clock.stamp(SlotSet("csat_rating", 11)),
    ]
    store.count(published(SENDER, events))
    conversation, _ = only(store)
    assert conversation.csat == 5


def test_answering_the_csat_question_and_leaving_at_its_comment_keeps_the_conversation_resolved(store):
    clock = Clock()
    events = [
        clock.stamp(user("where is my order 10007?", "check_order_status")),
        clock.stamp(bot("utter_order_status")),
        clock.stamp(user("thanks, bye", "goodbye")),
        clock.stamp(ActionExecuted("action_csat_offer")),
        clock.stamp(bot("utter_csat_question")),
        clock.stamp(user("4", "nlu_fallback")),  # a typed rating NLU cannot place: an answer, not a miss
        clock.stamp(ActionExecuted("action_csat_rate")),
        clock.stamp(SlotSet("csat_rating", 4)),
        clock.stamp(bot("utter_csat_rated_high")),
        clock.stamp(ActionExecuted("csat_comment_form")),
        clock.stamp(SlotSet("requested_slot", "csat_comment")),
        clock.stamp(bot("utter_ask_csat_comment")),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert [turn.csat_answer for turn in turns] == [False, False, True]
    assert conversation.csat == 4 and conversation.fallbacks == 0 and turns[-1].fallback is None
    from analytics.summary import summarise

    summary = summarise(store.conversations(), store.turns())
    assert summary.resolved == 1 and summary.containment == 1.0 and summary.drop_off_steps == []


def _at_the_comment_question(clock: Clock) -> list[Event]:
    return [
        clock.stamp(user("where is my order 10007?", "check_order_status")),
        clock.stamp(bot("utter_order_status")),
        clock.stamp(user("thanks, bye", "goodbye")),
        clock.stamp(bot("utter_csat_question")),
        clock.stamp(user("4", "rate")),
        clock.stamp(SlotSet("csat_rating", 4)),
        clock.stamp(ActionExecuted("csat_comment_form")),
        clock.stamp(bot("utter_ask_csat_comment")),
    ]


def test_a_request_the_comment_question_rejected_counts_as_a_request_with_its_fallback(store):
    clock = Clock()
    events = [
        *_at_the_comment_question(clock),
        clock.stamp(user("can you refund order 10007?", "request_refund")),
        clock.stamp(ActionExecutionRejected("csat_comment_form")),
        clock.stamp(ActionExecuted("action_fallback")),
        clock.stamp(bot("utter_default")),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert [turn.csat_answer for turn in turns] == [False, False, True, False]
    assert turns[-1].intent == "request_refund" and turns[-1].fallback == "core"
    assert conversation.fallbacks == 1 and conversation.csat == 4


def test_a_comment_the_form_took_stays_a_csat_answer_and_another_forms_rejection_changes_nothing(store):
    clock = Clock()
    events = [
        *_at_the_comment_question(clock),
        clock.stamp(user("the refund took too long", "nlu_fallback")),
        clock.stamp(ActionExecutionRejected("service_form")),
        clock.stamp(ActionExecuted("csat_comment_form")),
        clock.stamp(bot("utter_csat_thanks")),
    ]
    store.count(published(SENDER, events))
    conversation, turns = only(store)
    assert turns[-1].csat_answer is True and turns[-1].fallback is None and conversation.fallbacks == 0


def test_a_store_made_before_the_csat_answer_column_gets_it(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    old = AnalyticsStore(f"sqlite:///{path}", ref_secret=SECRET)
    old.close()
    with sqlite3.connect(path) as db:  # as an older release made it
        db.execute("ALTER TABLE analytics_turns DROP COLUMN csat_answer")
    reopened = AnalyticsStore(f"sqlite:///{path}", ref_secret=SECRET)
    try:
        reopened.count(published(SENDER, [Clock().stamp(user("hello", "greet"))]))
        assert [turn.csat_answer for turn in reopened.turns()] == [False]
    finally:
        reopened.close()
