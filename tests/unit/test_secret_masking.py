"""One-time codes and card numbers are masked by the patterns of foundation/redaction.py, in a conversation's
events when Rasa saves it (rasa_runtime/secret_masking.py), and nothing else in the events is touched."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from foundation import redaction
from rasa_runtime import secret_masking

VISA = "4242 4242 4242 4242"  # the test card every payment provider documents: Luhn-valid
AMEX = "3782-822463-10005"


@pytest.mark.parametrize(
    "digits, valid",
    [("4242424242424242", True), ("4111111111111111", True), ("378282246310005", True), ("4242424242424241", False)],
)
def test_the_luhn_check(digits, valid):
    assert redaction.luhn_valid(digits) is valid


@pytest.mark.parametrize("card", [VISA, "4242424242424242", AMEX, "4242-4242-4242-4242", "6011 1111 1111 1117"])
def test_a_card_number_as_people_write_it_is_masked_keeping_its_last_four(card):
    masked = redaction.mask_cards(f"I paid with {card}, twice")
    assert masked == f"I paid with [card ending {card[-4:]}], twice"


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4241",  # fails the Luhn check
        "orders 10234 10235 10236",  # order numbers in a row are not card groups
        "event at 1718099999123",  # a millisecond timestamp (starts with 1)
        "€1,234.56 refunded for 10001",
        "Keizersgracht 123, 1015 CJ Amsterdam",
    ],
)
def test_what_is_not_a_card_number_stays(text):
    assert redaction.mask_cards(text) == text


def test_a_typed_code_is_masked_with_or_without_a_space():
    assert redaction.mask_typed_code("it's 123456") == "it's [code]"
    assert redaction.mask_typed_code("123 456") == "[code]"
    assert redaction.mask_typed_code("order 10234, code 987654") == "order 10234, code [code]"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Received user message '123456' with intent inform", "Received user message '[code]' with intent inform"),
        ('"text": "my code is 123 456."', '"text": "my code is [code]."'),
        ("took 0.123456 s at 1718099999.123456", "took 0.123456 s at 1718099999.123456"),
        ("order 10234 for €120.50 to 1015 CJ", "order 10234 for €120.50 to 1015 CJ"),
        ("GET /v1/verifications/123456 request 3fa9c0-123456", "GET /v1/verifications/123456 request 3fa9c0-123456"),
        (f"card {VISA}", "card [card ending 4242]"),
    ],
)
def test_log_text_masks_codes_and_cards_but_not_ids_decimals_or_order_numbers(text, expected):
    assert redaction.redact_log_text(text) == expected


def test_conversation_ids_in_log_text_become_their_reference():
    text = "Starting a new session for conversation ID 'whatsapp:+31612345678' and rest:abc-1."
    masked = redaction.redact_log_text(text, lambda sender: f"<{len(sender)}>")
    assert masked == "Starting a new session for conversation ID 'conversation:<21>' and conversation:<10>."


# --- the events ------------------------------------------------------------------------------------------------

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [inform, request_refund]
entities: [verification_code, order_id]
slots:
  requested_slot: {type: any, influence_conversation: false, mappings: [{type: custom}]}
  verification_code: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  new_contact: {type: text, influence_conversation: false, mappings: [{type: custom}]}
"""
)


def user(text: str, entities: list | None = None) -> UserUttered:
    entities = entities or []
    return UserUttered(text, {"name": "inform", "confidence": 0.9}, entities, {"entities": entities, "text": text})


def conversation() -> DialogueStateTracker:
    events = [
        ActionExecuted("action_listen"),
        user(f"refund for order 10234 please, I paid with {VISA}", [{"entity": "order_id", "value": "10234"}]),
        SlotSet("requested_slot", "verification_code"),
        BotUttered("Please type the 6-digit code from that email."),
        ActionExecuted("action_listen"),
        user("it's 482 913", [{"entity": "verification_code", "value": "482 913", "start": 5, "end": 12}]),
        SlotSet("verification_code", "482913"),
        SlotSet("verification_code", "verified"),
        SlotSet("requested_slot", None),
        SlotSet("new_contact", f"card {VISA}"),
        ActionExecuted("action_listen"),
        user("what about 123456?"),  # six digits, but nobody asked for a code
    ]
    return DialogueStateTracker.from_events("rest:shopper", events, DOMAIN.slots)


def users(tracker) -> list[UserUttered]:
    return [event for event in tracker.events if isinstance(event, UserUttered)]


def test_the_code_typed_when_asked_is_masked_in_text_parse_data_entities_and_slot():
    tracker = conversation()
    secret_masking.mask_tracker(tracker)
    typed = users(tracker)[1]
    assert typed.text == typed.parse_data["text"] == "it's [code]"
    assert [e["value"] for e in typed.entities] == [e["value"] for e in typed.parse_data["entities"]] == ["[code]"]
    code_slots = [e.value for e in tracker.events if isinstance(e, SlotSet) and e.key == "verification_code"]
    assert code_slots == ["[code]", "verified"]
    assert tracker.get_slot("verification_code") == "verified"  # what the form decided stays


def test_card_numbers_are_masked_anywhere_and_order_numbers_and_other_digits_stay():
    tracker = conversation()
    secret_masking.mask_tracker(tracker)
    first, _, last = users(tracker)
    assert first.text == "refund for order 10234 please, I paid with [card ending 4242]"
    assert first.entities == [{"entity": "order_id", "value": "10234"}]
    assert last.text == "what about 123456?"
    assert [e.value for e in tracker.events if isinstance(e, SlotSet) and e.key == "new_contact"] == [
        "card [card ending 4242]"
    ]
    # Every stored field but the timestamps, whose digits may hold any three in a row ("482" in 1796241210.7614825).
    stored = str([{k: v for k, v in event.as_dict().items() if k != "timestamp"} for event in tracker.events])
    assert "4242 4242" not in stored and "482" not in stored


def test_a_channels_credentials_in_metadata_are_masked_in_the_message_and_the_session_slot():
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDMTAwMSJ9.c2lnbmF0dXJl"
    metadata = {"customer_token": token, "correlation_id": "4f1c", "session_token": "s3ss10n"}
    message = UserUttered("where is my refund?", {"name": "refund_status"}, [], {"metadata": dict(metadata)})
    message.metadata = dict(metadata)
    events = [SlotSet("session_started_metadata", dict(metadata)), ActionExecuted("action_listen"), message]
    tracker = DialogueStateTracker.from_events("rest:shopper", events, DOMAIN.slots)
    secret_masking.mask_tracker(tracker)
    masked = {"customer_token": "[token]", "correlation_id": "4f1c", "session_token": "[token]"}
    slot = next(event for event in tracker.events if isinstance(event, SlotSet))
    assert users(tracker)[0].metadata == users(tracker)[0].parse_data["metadata"] == slot.value == masked
    assert token not in str([event.as_dict() for event in tracker.events])
    assert metadata["customer_token"] == token  # the channel's own dict is not changed under it


def test_masking_twice_changes_nothing_more():
    tracker = conversation()
    secret_masking.mask_tracker(tracker)
    once = [event.as_dict() for event in tracker.events]
    secret_masking.mask_tracker(tracker)
    assert [event.as_dict() for event in tracker.events] == once


def test_masking_event_by_event_masks_what_masking_at_once_masks():
    """Each save masks only what the tracker gained since the last one, carrying on what the form asked."""
    whole = conversation()
    secret_masking.mask_tracker(whole)
    growing = DialogueStateTracker("rest:shopper", DOMAIN.slots)
    for event in conversation().events:
        growing.update(event)
        secret_masking.mask_tracker(growing)
    untimed = lambda tracker: [{**event.as_dict(), "timestamp": None} for event in tracker.events]  # noqa: E731
    assert untimed(growing) == untimed(whole)
    growing.update(user("ok 654 321", [{"entity": "verification_code", "value": "654 321"}]))
    secret_masking.mask_tracker(growing)
    assert users(growing)[-1].text == "ok [code]"


def test_the_patched_save_hands_rasas_tracker_store_only_masks():
    store = InMemoryTrackerStore(DOMAIN)
    original, streaming = MessageProcessor.save_tracker, TrackerStore.__dict__["_stream_new_events"]
    try:
        secret_masking.mask_secrets_before_saving()
        secret_masking.mask_secrets_before_saving()  # applied twice, wrapped once
        assert MessageProcessor.save_tracker.__wrapped__ is original
        processor = MessageProcessor.__new__(MessageProcessor)  # only its tracker store is used by save_tracker
        processor.tracker_store = store
        tracker = conversation()
        asyncio.run(processor.save_tracker(tracker))
    finally:
        MessageProcessor.save_tracker, TrackerStore._stream_new_events = original, streaming
    saved = asyncio.run(store.retrieve("rest:shopper"))
    assert saved is not None
    texts = [event.text for event in saved.events if isinstance(event, UserUttered)]
    assert texts[1] == "it's [code]" and "[card ending 4242]" in texts[0]
    assert users(tracker)[1].text == "it's [code]"  # the caller's (in-memory) tracker is masked too
