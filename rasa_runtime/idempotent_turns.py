"""A shopper's message delivered twice is answered twice but processed and stored once.

nginx retries a webhook POST on another Rasa replica when the first one fails (docker/nginx/cluster.conf,
`proxy_next_upstream ... non_idempotent`). A replica killed after it saved the turn (the user's event and the
bot's answers) and before it answered HTTP leaves the turn stored, and Rasa would run the retry as a new message:
the conversation would hold the message twice and the bot would answer it twice. The retry carries the same
message id as the first attempt: nginx passes one `X-Request-ID` for every attempt of a client's request and the
channel makes it the `UserMessage`'s `message_id` (channels/rest.py), which Rasa stores in the `user` event.

`answer_retries_from_the_store` (one of the runtime's patches, `RASA_PATCH_IDEMPOTENT_TURNS`) wraps, under the
conversation's lock and after the tracker is fetched:

- `MessageProcessor._handle_message_with_tracker`, where Rasa parses the message and logs it: when the
  conversation's last user event has the incoming message's id and its text (as the store keeps it: a one-time
  code or a card number is masked there, rasa_runtime/secret_masking.py), the turn already ran. The message is not
  parsed nor logged; the bot messages stored after that event are sent to the message's output channel as Rasa
  sent them (`OutputChannel.send_response`: text, buttons, image, attachment, custom), and a log line says so
  (with the correlation id and the conversation's ref, never the text).
- `MessageProcessor.run_action_extract_slots` and `MessageProcessor._run_prediction_loop`, which then do nothing
  for that turn: no slot is extracted again, no action runs again, so the save that ends the turn stores nothing.

Only the last user event counts: a retry comes right after its first attempt, so a client that reuses an id later
for another text, or the same id with another text, is processed as usual. Every other message is Rasa's.

A turn answered from the store is reported to the metrics (`rasa_runtime.metrics.answered_from_the_store`), so a
retry is not counted as one more message received.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from foundation.conversation_ref import conversation_ref
from foundation.redaction import mask_cards, mask_typed_code
from rasa_runtime import metrics

log = logging.getLogger("rasa_runtime.idempotent_turns")

REPLAYED = "_idempotent_turns_replayed"  # on a tracker: (message id, event count) of the turn answered from the store


def same_text(stored: str | None, incoming: str | None) -> bool:
    """Whether a stored user text is the incoming one: as typed, or as the store masks it (a code, a card)."""
    stored, incoming = stored or "", incoming or ""
    return stored in (incoming, mask_cards(incoming), mask_typed_code(incoming))


def stored_answers(tracker: Any, message_id: str | None, text: str | None) -> list[Any] | None:
    """The bot messages stored after the conversation's last user event when that event is this message (same id,
    same text): the turn already ran. None when it is not (or there is none): the message is to be processed."""
    from rasa.shared.core.events import BotUttered, UserUttered

    answers: list[Any] = []
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            answers.append(event)
        elif isinstance(event, UserUttered):
            if message_id and event.message_id == message_id and same_text(event.text, text):
                return answers[::-1]
            return None
    return None


def replaying(tracker: Any) -> bool:
    """Whether this tracker's turn is answered from the store: marked by the wrapper below, and not grown since."""
    mark = tracker.__dict__.get(REPLAYED)
    if mark is None:
        return False
    latest = tracker.latest_message
    if mark == (getattr(latest, "message_id", None), len(tracker.events)):
        return True
    tracker.__dict__.pop(REPLAYED, None)  # a later turn on the same tracker object: Rasa's as usual
    return False


def answer_from_the_store(original: Callable[..., Any]) -> Callable[..., Any]:
    """`MessageProcessor._handle_message_with_tracker`: a message whose turn is stored is answered from there."""

    async def _handle_message_with_tracker(self: Any, message: Any, tracker: Any) -> None:
        answers = stored_answers(tracker, message.message_id, message.text)
        if answers is None:
            tracker.__dict__.pop(REPLAYED, None)
            return await original(self, message, tracker)
        tracker.__dict__[REPLAYED] = (message.message_id, len(tracker.events))
        metrics.answered_from_the_store()
        log.info(
            "message already answered: its turn is stored, sending the stored answers again",
            extra={
                "conversation": conversation_ref(tracker.sender_id),
                "message_id": message.message_id,
                "bot_messages": len(answers),
            },
        )
        for answer in answers:
            await message.output_channel.send_response(tracker.sender_id, answer.message())
        return None

    _handle_message_with_tracker.__wrapped__ = original  # type: ignore[attr-defined]
    return _handle_message_with_tracker


def skipped_when_replaying(original: Callable[..., Any]) -> Callable[..., Any]:
    """`MessageProcessor.run_action_extract_slots` or `_run_prediction_loop`: nothing to extract and no action to
    run for a turn answered from the store. Both take `(output_channel, tracker)`; the first one's caller uses the
    tracker it returns, the second one's ignores what it returns."""

    async def skipped(self: Any, output_channel: Any, tracker: Any) -> Any:
        if replaying(tracker):
            return tracker
        return await original(self, output_channel, tracker)

    skipped.__wrapped__ = original  # type: ignore[attr-defined]
    return skipped


PATCHED = (
    ("_handle_message_with_tracker", answer_from_the_store),
    ("run_action_extract_slots", skipped_when_replaying),
    ("_run_prediction_loop", skipped_when_replaying),
)


def answer_retries_from_the_store() -> None:
    """Apply this module's fix (idempotent: a second call wraps nothing twice)."""
    from rasa.core.processor import MessageProcessor

    for attribute, wrap in PATCHED:
        current = MessageProcessor.__dict__[attribute]
        if not hasattr(current, "__wrapped__"):
            setattr(MessageProcessor, attribute, wrap(current))


def undo() -> None:
    """Put Rasa's own methods back (the tests compare both)."""
    from rasa.core.processor import MessageProcessor

    for attribute, _ in PATCHED:
        current = MessageProcessor.__dict__[attribute]
        if hasattr(current, "__wrapped__"):
            setattr(MessageProcessor, attribute, current.__wrapped__)
