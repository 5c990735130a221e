"""One-time codes and card numbers masked in a conversation's events before the tracker store keeps them, and
every kind of personal data redacted from the copies the event broker gets.

A shopper types the code the CRM emailed them, and the action server checks it in the same turn
(actions/identity.py, called by the form in actions/service_form.py). After that turn nobody needs it, but
Rasa would keep it verbatim in the tracker store and copy it to the event broker. So the tracker is masked
when Rasa saves it (`MessageProcessor.save_tracker`, the end of every turn), in place: the stored rows, the
broker's copy and the tracker the store keeps in memory (conversation_stores/) all hold the mask.

- A message typed while the form asks for the code (`requested_slot` is `verification_code`), or in which NLU
  found a `verification_code` entity: every six-digit group in its text, parse data and entities becomes
  `[code]`; the `verification_code` slot's value too, except the form's own `verified` marker.
- Any Luhn-valid card number, in any message either way, in slot values and in the bot's answers: `[card ending
  1234]` (foundation/redaction.py). Order numbers, amounts and postcodes stay as they are.
- The credentials a channel passes in a message's metadata (the signed customer token, a session token), in the
  message and in Rasa's `session_started_metadata` slot: `[token]`. The service form checks the token in the
  turn of its own message, before the save; later turns send their own.

Entity offsets (`start`, `end`) keep the positions of the text as typed. What Rasa's HTTP API writes straight
to the tracker store (`/conversations/<id>/tracker/events`) is not masked.

The event broker's copy goes further (docs/privacy.md): what Rasa publishes (`TrackerStore._stream_new_events`,
which every tracker store's `save` calls) is each event through `foundation.pii.redact_payload`, with the
conversation's known values (the email, phone number and address its personal slots hold, from the whole
tracker being saved). Emails, phone numbers, addresses, IBANs, cards and codes in the texts, entities, metadata
and slot values become placeholders; the tracker store keeps the events as they are above.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from typing import Any

from foundation import pii
from foundation.redaction import CODE_MASK, mask_cards, mask_typed_code

REQUESTED_SLOT = "requested_slot"
SESSION_METADATA_SLOT = "session_started_metadata"  # Rasa's copy of a session's first message metadata
# Credentials a channel passes in a message's metadata: the signed customer token the service form checks in
# the turn of that very message (actions/service_form.py), and a web chat session token. Useless to the
# conversation after that turn, and a replayable credential to whoever reads the store until it expires.
TOKEN_KEYS = ("customer_token", "session_token")
TOKEN_MASK = "[token]"
CODE_SLOT = "verification_code"  # the form's slot and NLU's entity of the same name (domain.yml)
VERIFIED = "verified"  # what the form sets the code slot to once the code matched (actions/service_form.py)


MASKED_SO_FAR = "_masked_so_far"  # on a tracker: (its event deque, events masked, the last of them, requested slot)


def mask_tracker(tracker: Any) -> None:
    """Mask the codes and card numbers in every event of the tracker, in place (masked events stay as they are).

    The tracker store hands the same tracker to the next turn (conversation_stores/tracker_store.py), so the
    tracker remembers how far it was masked and the next save goes on from there, not from the first event.
    """
    from rasa.shared.core.events import AllSlotsReset, BotUttered, Restarted, SessionStarted, SlotSet, UserUttered

    events = tracker.events
    requested, start = None, 0
    so_far = tracker.__dict__.get(MASKED_SO_FAR)
    if so_far is not None:
        deque_then, count, last, requested_then = so_far
        if deque_then is events and 0 < count <= len(events) and events[count - 1] is last:
            requested, start = requested_then, count
    for index in range(start, len(events)):
        event = events[index]
        if isinstance(event, UserUttered):
            _mask_message(event, typed_code=requested == CODE_SLOT or _has_code_entity(event))
        elif isinstance(event, SlotSet):
            if event.key == REQUESTED_SLOT:
                requested = event.value
            elif event.key == CODE_SLOT and event.value not in (None, VERIFIED):
                event.value = CODE_MASK
            elif event.key == SESSION_METADATA_SLOT:
                event.value = without_tokens(event.value)
            elif isinstance(event.value, str):
                event.value = mask_cards(event.value)
        elif isinstance(event, BotUttered) and event.text:
            event.text = mask_cards(event.text)
        elif isinstance(event, (Restarted, AllSlotsReset, SessionStarted)):
            requested = None
    if events and events.maxlen is None:
        tracker.__dict__[MASKED_SO_FAR] = (events, len(events), events[len(events) - 1], requested)


def _has_code_entity(event: Any) -> bool:
    return any(entity.get("entity") == CODE_SLOT for entity in event.entities or [])


def without_tokens(metadata: Any) -> Any:
    """A message's metadata with the channel's credentials (TOKEN_KEYS) masked: a new dict, the rest as it was."""
    if not isinstance(metadata, dict) or not any(key in metadata for key in TOKEN_KEYS):
        return metadata
    return {key: TOKEN_MASK if key in TOKEN_KEYS and value else value for key, value in metadata.items()}


def _mask_message(event: Any, *, typed_code: bool) -> None:
    mask: Callable[[str], str] = mask_typed_code if typed_code else mask_cards
    if event.text:
        event.text = mask(event.text)
    event.metadata = without_tokens(event.metadata)
    parse_data = event.parse_data or {}
    if "metadata" in parse_data:
        parse_data["metadata"] = without_tokens(parse_data["metadata"])
    if isinstance(parse_data.get("text"), str):
        parse_data["text"] = mask(parse_data["text"])
    for entities in (event.entities or [], parse_data.get("entities") or []):
        for entity in entities:
            if entity.get("entity") == CODE_SLOT:
                entity["value"] = CODE_MASK
            elif isinstance(entity.get("value"), str):
                entity["value"] = mask(entity["value"])


def mask_secrets_before_saving() -> None:
    """Mask a tracker's one-time codes and card numbers each time Rasa saves it, and redact the event broker's
    copy of its new events (this module's docstring).

    Wraps `MessageProcessor.save_tracker`, which every turn ends with (a message, an external event, an action
    run through the HTTP API); the tracker store's `save` and its stream to the event broker then see only masks.
    """
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.save_tracker
    if hasattr(original, "__wrapped__"):
        return

    async def save_tracker(self: Any, tracker: Any) -> None:
        mask_tracker(tracker)
        saving = _SAVING.set(tracker)  # the broker's copy reads its known values, if there is a broker
        try:
            await original(self, tracker)
        finally:
            _SAVING.reset(saving)

    save_tracker.__wrapped__ = original  # type: ignore[attr-defined]
    MessageProcessor.save_tracker = save_tracker
    redact_what_the_broker_gets()


# The tracker being saved (set by save_tracker): the broker's copy of its new events takes its known values from
# the whole conversation, and only when a broker is there to get them (no walk of the events otherwise).
_SAVING: contextvars.ContextVar[Any] = contextvars.ContextVar("tracker_being_saved", default=None)


def known_values_of(events: Iterable[Any]) -> list[str]:
    """The values of a conversation's personal slots (foundation/pii.py's PERSONAL_SLOTS), every one it held."""
    from rasa.shared.core.events import SlotSet

    return pii.known_values(
        {"event": "slot", "name": event.key, "value": event.value} for event in events if isinstance(event, SlotSet)
    )


def redact_what_the_broker_gets() -> None:
    """Publish each new event redacted (this module's docstring): replaces `TrackerStore._stream_new_events`,
    Rasa's one place that publishes a saved tracker's events, with the same loop over a redacted body.

    The known values come from the tracker `save_tracker` is saving (set for the turn's task), else from the
    new events themselves (a tracker saved outside a turn).
    """
    from rasa.core.tracker_store import TrackerStore

    original = TrackerStore._stream_new_events
    if hasattr(original, "__wrapped__"):
        return

    async def _stream_new_events(self: Any, event_broker: Any, new_events: list[Any], sender_id: str) -> None:
        saving = _SAVING.get()
        known = known_values_of(saving.events if saving is not None and saving.sender_id == sender_id else new_events)
        for event in new_events:  # a redacted copy of each; the tracker store's events stay as they are
            event_broker.publish(pii.redact_payload({"sender_id": sender_id, **event.as_dict()}, known))

    _stream_new_events.__wrapped__ = original  # type: ignore[attr-defined]
    TrackerStore._stream_new_events = _stream_new_events
