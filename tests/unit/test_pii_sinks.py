"""foundation/pii.py reaching every sink: the log filter, the event broker's payloads and what skips scrubadub.

The quick pre-check (foundation/redaction.might_hold_personal_data) must never let through a text in which a
detector would have found something; the broker's copy of an event must hold no personal data while the
tracker store keeps the event as it is; a log record must lose emails, phones, addresses and IBANs but keep
the ids and URLs operators search for.
"""

from __future__ import annotations

import asyncio
import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import InMemoryTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from foundation import logging as json_logging
from foundation import pii, redaction
from rasa_runtime import secret_masking

EMAIL, PHONE, STREET, POSTCODE, IBAN = (
    "anna.bakker@example.com",
    "+31 6 1234 5678",
    "Keizersgracht 123",
    "1015 CJ",
    ("NL91 ABNA 0417 1643 00"),
)
PERSONAL = (EMAIL, PHONE, STREET, POSTCODE, IBAN)

# Texts of every kind the detectors find, and texts around them, for the pre-check's equivalence.
SAMPLES = [
    f"my email is {EMAIL}",
    "anna at example dot com",
    "ANNA AT EXAMPLE DOT COM please",
    f"call me on {PHONE}",
    "or 0612345678, or +683 4002, or 14020",
    f"I live at {STREET}, {POSTCODE} Amsterdam",
    "12 High Street, London SW1A 1AA",
    "M1 1AA",
    f"refund it to {IBAN}",
    "see www.example.com or https://example.com/a?b=c",
    "4242 4242 4242 4242",
    "the code is 386278",
    "where is my order?",
    "I want to talk to a real person",
    "action_check_order ran for intent check_order_status",
    "Keizersgracht without a number",
    "we sat at the table",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_a_text_the_pre_check_lets_skip_scrubadub_has_nothing_any_detector_finds(text):
    found = list(pii._scrubber(True, True).iter_filth(text)) + list(pii._iban_scrubber().iter_filth(text))
    assert redaction.might_hold_personal_data(text) or not found
    assert found or redaction.might_hold_personal_data(text) or pii.redact(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + " .,:;!?()-_/'\"#&*+=~", max_size=60))
def test_no_detector_finds_anything_in_a_text_without_an_at_sign_a_digit_or_a_url(text):
    if redaction.might_hold_personal_data(text):
        return
    assert list(pii._scrubber(True, True).iter_filth(text)) == []
    assert list(pii._iban_scrubber().iter_filth(text)) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + " .,:-/()+", max_size=40))
def test_the_phone_detector_finds_nothing_without_a_run_of_five_digits(text):
    if pii.PHONE_CANDIDATE.search(text):
        return
    assert list(pii._scrubber(True, True)._detectors["phone"].iter_filth(text)) == []


def test_the_phone_detector_is_only_skipped_where_it_could_not_find_a_number():
    for number in ("+683 4002", "14020", "06-12345678", "+31 (0)6 1234 5678", "0031.6.12345678"):
        assert pii.PHONE_CANDIDATE.search(f"call {number} now")
        assert pii.redact(f"call {number} now") == "call [phone] now"


def record(message: str, **extra) -> logging.LogRecord:
    made = logging.LogRecord("actions", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_log_record_loses_emails_phones_addresses_and_ibans_in_its_message_and_extra_fields():
    made = record(f"shopper wrote {EMAIL}, {PHONE}", text=f"{STREET}, {POSTCODE} Amsterdam", nested={"iban": [IBAN]})
    assert json_logging.RedactingFilter().filter(made)
    written = f"{made.getMessage()} {made.text} {made.nested}"
    assert all(value not in written for value in PERSONAL), written
    assert made.getMessage() == "shopper wrote [email], [phone]"
    assert made.text == "[address], [postcode] Amsterdam" and made.nested == {"iban": ["[iban]"]}


def test_a_log_record_keeps_urls_hex_ids_and_masks_conversation_ids_without_reading_them_as_phones():
    made = record(
        "GET http://127.0.0.1:5055/webhook took 35 ms for whatsapp:+31612345678",
        conversation="ab12cd34ef567890",
        correlation_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    )
    json_logging.RedactingFilter().filter(made)
    message = made.getMessage()
    assert message.startswith("GET http://127.0.0.1:5055/webhook took 35 ms for conversation:")
    assert "[phone]" not in message and "31612345678" not in message
    assert made.conversation == "ab12cd34ef567890" and made.correlation_id == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def test_a_hex_id_in_an_email_is_not_kept_apart_from_it():
    assert json_logging.redact_log_text("from deadbeef1234@example.com and x.cafe12345678@example.org") == (
        "from [email] and [email]"
    )


def test_a_record_logged_while_a_record_is_being_redacted_is_masked_by_the_patterns_alone(monkeypatch):
    inner: list[str] = []

    def logs_while_redacting(text: str) -> str:
        inner.append(json_logging.redact_log_text("code 386278 for anna@example.com"))
        return text

    monkeypatch.setattr(pii, "redact_for_logs", logs_while_redacting)
    assert json_logging.redact_log_text("a digit 1") == "a digit 1"
    assert inner == ["code [code] for anna@example.com"]  # no endless recursion; the patterns still apply


DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [inform]
entities: [email]
slots:
  login_email: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  new_address: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  order_id: {type: text, influence_conversation: false, mappings: [{type: custom}]}
"""
)


class RecordingBroker:
    """An event broker that keeps what it was given to publish."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


def conversation() -> DialogueStateTracker:
    typed = f"it's {EMAIL.upper()}"
    entity = {"entity": "email", "value": EMAIL.upper(), "start": 5, "end": 28}
    events = [
        ActionExecuted("action_listen"),
        UserUttered(typed, {"name": "inform", "confidence": 0.9}, [entity], {"text": typed, "entities": [entity]}),
        SlotSet("login_email", EMAIL),
        BotUttered(f"If {EMAIL} is on our records, I've sent a code."),
        ActionExecuted("action_listen"),
        UserUttered(f"send it to {STREET.lower()}, or call {PHONE} about order 10234", {"name": "inform"}),
        SlotSet("new_address", "Keizersgracht 123"),
        SlotSet("order_id", "10234"),
    ]
    return DialogueStateTracker.from_events("rest:shopper", events, DOMAIN.slots)


def test_the_broker_gets_every_event_redacted_and_the_tracker_store_keeps_it_as_typed():
    store = InMemoryTrackerStore(DOMAIN, event_broker=RecordingBroker())
    saved = (MessageProcessor.save_tracker, TrackerStore.__dict__["_stream_new_events"])
    try:
        secret_masking.mask_secrets_before_saving()
        processor = MessageProcessor.__new__(MessageProcessor)  # only its tracker store is used by save_tracker
        processor.tracker_store = store
        asyncio.run(processor.save_tracker(conversation()))
    finally:
        MessageProcessor.save_tracker, TrackerStore._stream_new_events = saved
    published = store.event_broker.published
    assert [event["event"] for event in published] == [event.type_name for event in conversation().events]
    text = repr(published)
    assert all(value not in text and value.lower() not in text.lower() for value in PERSONAL), text
    user, slot = published[1], published[2]
    assert user["text"] == "it's [email]" and user["parse_data"]["entities"][0]["value"] == "[email]"
    assert user["parse_data"]["intent"]["name"] == "inform" and user["sender_id"] == "rest:shopper"
    assert slot == {**slot, "name": "login_email", "value": "[email]"}
    assert published[5]["text"] == "send it to [address], or call [phone] about order 10234"
    assert published[7]["value"] == "10234"  # what analytics needs stays
    kept = asyncio.run(store.retrieve("rest:shopper"))
    assert kept is not None and EMAIL.upper() in kept.events[1].text and kept.get_slot("login_email") == EMAIL


def test_a_payload_is_redacted_as_a_copy_and_its_structure_stays():
    event = {"event": "user", "text": f"mail {EMAIL}", "parse_data": {"intent": {"name": "inform"}, "text": EMAIL}}
    copy = pii.redact_payload(event)
    assert copy == {
        "event": "user",
        "text": "mail [email]",
        "parse_data": {"intent": {"name": "inform"}, "text": "[email]"},
    }
    assert event["parse_data"]["text"] == EMAIL  # the tracker store's event is not changed
