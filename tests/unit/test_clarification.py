"""Guards actions/clarification and the fallback's use of it: which readings a clarifying question offers,
how they are named and what their buttons replay, and that the second miss in a row offers a person."""

from __future__ import annotations

import json

from actions.clarification import REQUESTS, ActionAnswerChosenFaq, options, payload
from actions.fallback import ActionFallback
from tests.support.conversation import DOMAIN, entity, make_tracker, run, slot_events, user_event


def ambiguous(text, ranking, entities=(), topics=()):
    """A tracker whose latest message fell back (nlu_fallback first), with the classifier's ranking after it."""
    tracker = make_tracker(text, "nlu_fallback", entities=list(entities))
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.35}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranking
    ]
    if topics:
        tracker.latest_message["response_selector"] = {
            "faq": {"ranking": [{"intent_response_key": key, "confidence": confidence} for key, confidence in topics]}
        }
    return tracker


def test_the_two_closest_requests_are_offered_with_the_entities_of_the_message():
    text = "what about the money for 10042"
    tracker = ambiguous(
        text,
        [("check_refund_status", 0.41), ("request_refund", 0.38), ("greet", 0.1)],
        entities=[entity("order_id", "10042", text)],
    )
    messages, events = run(ActionFallback(), tracker)
    assert messages[0]["response"] == "utter_clarify"
    assert messages[0]["first"] == "where your refund is" and messages[0]["second"] == "asking for a refund"
    payloads = [button["payload"] for button in messages[0]["buttons"]]
    assert payloads == [
        '/check_refund_status{"order_id": "10042"}',
        '/request_refund{"order_id": "10042"}',
        "/nlu_fallback",
    ]
    assert [button["title"] for button in messages[0]["buttons"]][-1] == "something else"
    assert slot_events(events) == {}


def test_chat_moves_and_weak_readings_are_not_offered():
    tracker = ambiguous(
        "hmm ok so", [("affirm", 0.3), ("check_order_status", 0.25), ("thank", 0.2), ("cancel_order", 0.05)]
    )
    readings = options(tracker.latest_message, DOMAIN)
    assert [option.key for option in readings] == ["check_order_status"]
    messages, _ = run(ActionFallback(), tracker)
    assert messages[0]["response"] == "utter_clarify_one" and messages[0]["first"] == "where your order is"


def test_nothing_worth_offering_asks_to_rephrase():
    tracker = ambiguous("blorp", [("greet", 0.3), ("affirm", 0.2), ("check_order_status", 0.06)])
    messages, _ = run(ActionFallback(), tracker)
    assert messages[0]["response"] == "utter_ask_rephrase"


def test_an_faq_reading_is_its_best_topic_and_its_button_picks_that_topic():
    tracker = ambiguous(
        "money back rules",
        [("faq", 0.45), ("request_refund", 0.40)],
        topics=[("faq/refund_policy", 0.9), ("faq/return_policy", 0.1)],
    )
    readings = options(tracker.latest_message, DOMAIN)
    assert [option.key for option in readings] == ["faq/refund_policy", "request_refund"]
    assert readings[0].payload == '/choose_faq{"faq_topic": "refund_policy"}'
    messages, _ = run(ActionFallback(), tracker)
    assert messages[0]["first"] == "how refunds work"


def test_the_chosen_faq_topic_is_answered_with_its_own_response():
    tracker = make_tracker(
        '/choose_faq{"faq_topic": "refund_policy"}',
        "choose_faq",
        entities=[{"entity": "faq_topic", "value": "refund_policy"}],
    )
    messages, _ = run(ActionAnswerChosenFaq(), tracker)
    assert messages[0]["response"] == "utter_faq/refund_policy"
    unknown = make_tracker("/choose_faq", "choose_faq", entities=[{"entity": "faq_topic", "value": "nonsense"}])
    messages, _ = run(ActionAnswerChosenFaq(), unknown)
    assert messages[0]["response"] == "utter_ask_rephrase"


def test_something_else_is_a_second_miss_and_offers_a_person():
    first = user_event("what about the money for 10042", "nlu_fallback")
    tracker = make_tracker("/nlu_fallback", "nlu_fallback", history=[first])
    messages, events = run(ActionFallback(), tracker)
    assert messages[0]["response"] == "utter_offer_handoff"
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "fallback"}


def test_off_topic_is_declined_with_what_the_assistant_can_do():
    tracker = make_tracker("who won the match yesterday", "out_of_scope")
    messages, _ = run(ActionFallback(), tracker)
    assert messages[0]["response"] == "utter_out_of_scope"
    decline = DOMAIN["responses"]["utter_out_of_scope"][0]["text"]
    assert "track your order" in decline and "person" in decline


def test_every_offerable_intent_and_faq_topic_has_a_name_for_the_shopper():
    names = set(DOMAIN["responses"])
    topics = [key.split("/", 1)[1] for key in names if key.startswith("utter_faq/")]
    wanted = [f"utter_option_{intent}" for intent in (*REQUESTS, "help", "something_else")]
    wanted += [f"utter_option_faq_{topic}" for topic in topics]
    assert topics and [name for name in wanted if name not in names] == []


def test_a_payload_replays_non_ascii_entities_as_json():
    button = payload("update_account", {"email": "emma.garcía@example.com"})
    assert button.startswith("/update_account{")
    assert json.loads(button[len("/update_account") :]) == {"email": "emma.garcía@example.com"}
