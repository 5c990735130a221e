"""How one of Rasa's broker events changes a conversation and its turns: the rules of what analytics counts.

The events are the dicts Rasa's event brokers publish (`Event.as_dict()` plus `sender_id`), in the order Rasa
saved them. Fallbacks, clarifying questions and handoff reasons are counted as the Rasa server's metrics count
them (rasa_runtime/metrics.py); a handoff is `action_handoff` followed by the pause it ends with
(actions/handoff.py), so a handoff the helpdesk could not take is not one. The definitions: docs/analytics.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from analytics.models import Conversation, Turn
from foundation.pii import redact
from rasa_runtime.metrics import (
    CSAT_RATING_SLOT,
    FALLBACK_ACTION,
    HANDOFF_REASON_SLOT,
    NLU_FALLBACK,
    OUT_OF_SCOPE,
    csat_rating,
)

CHANNEL_PREFIXES = ("rest", "slack", "teams", "whatsapp")  # the namespaced conversation ids
OTHER_CHANNEL = "other"
CLARIFYING_PREFIX = "utter_clarify"  # utter_clarify, utter_clarify_one (actions/clarification.py)
HANDOFF_ACTION = "action_handoff"
HUMAN_HANDOFF_INTENT = "human_handoff"
CUSTOMER_REQUEST = "customer_request"  # the reason action_handoff records when none was offered
CODE_SLOT = "verification_code"  # the form's slot and NLU's entity for the one-time code (domain.yml)
REQUESTED_SLOT = "requested_slot"
PENDING_SLOT = "pending"
# Actions that are Rasa's bookkeeping, not a step the shopper saw.
BOOKKEEPING_ACTIONS = frozenset({"action_listen", "action_session_start", "action_unlikely_intent"})
# A turn whose intent is one of these was understood as a miss already: action_fallback is its answer, not a
# core fallback.
NOT_CORE = (NLU_FALLBACK, OUT_OF_SCOPE)
RESETTING_EVENTS = frozenset({"session_started", "restart", "reset_slots"})
# The CSAT rating (rasa_runtime.metrics.csat_rating) is read into Conversation.csat; the free-text comment is not
# stored at all (docs/analytics.md).
# The steps that leave a CSAT question open (domain.yml, data/rules/csat.yml): a shopper message after one of them
# answers it. Such a turn is counted, but not as a request: no fallback, and the conversation's resolution is its
# last turn before the question (analytics/summary.py), so a shopper leaving at the question drops nothing.
CSAT_QUESTIONS = frozenset(
    {
        "utter_csat_question",
        "utter_csat_rating_invalid",
        "utter_csat_rated_high",
        "utter_csat_rated_low",
        "utter_ask_csat_comment",
        "csat_comment_form",
    }
)
CSAT_COMMENT_SLOT = "csat_comment"  # the comment form's requested slot: not an open request of the shopper's
# The comment form rejects a new request typed at its question (actions/csat.py `is_new_request`): that turn is
# then a request again, counted by its intent like any other, its fallback included.
CSAT_COMMENT_FORM = "csat_comment_form"


def channel_of(sender_id: str) -> str:
    """The channel of a conversation, from its id's prefix (`rest:`, `slack:`, `teams:`, `whatsapp:`)."""
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else ""
    return prefix if prefix in CHANNEL_PREFIXES else OTHER_CHANNEL


def event_key(event: Mapping[str, Any], ref: str) -> str:
    """One key per event, the same for a redelivered copy: conversation + timestamp + type + the event's hash.

    `ref` is the conversation's reference (not its id), so the key does not reveal the id either.
    """
    body = hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()
    return hashlib.sha256(f"{ref}|{event.get('timestamp')!r}|{event.get('event')}|{body}".encode()).hexdigest()


def parse_payload(payload: str | bytes) -> dict[str, Any] | None:
    """One broker payload (the JSON text Rasa's brokers publish) as an event dict; None when it is not one."""
    try:
        event = json.loads(payload)
    except (TypeError, ValueError):
        return None
    return event if isinstance(event, dict) else None


def new_conversation(ref: str, sender_id: str) -> Conversation:
    """A conversation with nothing counted yet."""
    return Conversation(ref=ref, channel=channel_of(sender_id))


def day_of(timestamp: float) -> date:
    """The UTC day of a Rasa event timestamp."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date()


def apply_event(
    conversation: Conversation, turn: Turn | None, event: Mapping[str, Any], secrets: Iterable[str] = ()
) -> Turn | None:
    """Count one event into the conversation and its latest turn; returns the new turn a shopper's message opens.

    `secrets` are the shopper's own values (`known_values`), removed from the text kept of their message.
    """
    kind = event.get("event")
    timestamp = float(event.get("timestamp") or 0.0)
    conversation.last_event_at = max(conversation.last_event_at or 0.0, timestamp)
    if kind == "user":
        return _user_message(conversation, event, timestamp, secrets)
    if kind == "bot" and turn is not None:
        _bot_message(conversation, turn, event, timestamp)
    elif kind == "bot":
        conversation.last_step = _response_name(event)
    elif kind == "action":
        _action(conversation, turn, str(event.get("name") or ""))
    elif kind == "slot":
        _slot(conversation, str(event.get("name") or ""), event.get("value"))
    elif kind == "action_execution_rejected" and turn is not None:
        _rejected(turn, str(event.get("name") or ""))
    elif kind == "pause" and conversation.handoff_running:
        reason = conversation.offered_reason or CUSTOMER_REQUEST
        conversation.handed_off, conversation.handoff_reason, conversation.handoff_running = True, reason, False
        if turn is not None:
            turn.handoff_reason = reason
    elif kind in RESETTING_EVENTS:
        conversation.requested_slot = conversation.pending = conversation.offered_reason = None
    return None


def _user_message(
    conversation: Conversation, event: Mapping[str, Any], timestamp: float, secrets: Iterable[str]
) -> Turn:
    parse_data = event.get("parse_data") or {}
    intent = parse_data.get("intent") or {}
    entities = parse_data.get("entities") or []
    code_expected = conversation.requested_slot == CODE_SLOT or any(
        isinstance(entity, Mapping) and entity.get("entity") == CODE_SLOT for entity in entities
    )
    conversation.turns = conversation.turns + 1
    if conversation.started_at is None:
        conversation.started_at, conversation.day = timestamp, day_of(timestamp)
    turn = Turn(
        conversation_ref=conversation.ref,
        number=conversation.turns,
        channel=conversation.channel,
        day=day_of(timestamp),
        user_at=timestamp,
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        text=redact(str(event.get("text") or ""), secrets, code_expected=code_expected),
        csat_answer=conversation.last_step in CSAT_QUESTIONS,
    )
    conversation.handoff_running = False
    if turn.intent == NLU_FALLBACK and not turn.csat_answer:
        turn.fallback = "nlu"
        conversation.fallbacks = conversation.fallbacks + 1
    return turn


def _response_name(event: Mapping[str, Any]) -> str:
    return str((event.get("metadata") or {}).get("utter_action") or "bot message")


def _bot_message(conversation: Conversation, turn: Turn, event: Mapping[str, Any], timestamp: float) -> None:
    response = _response_name(event)
    conversation.last_step = response
    turn.bot_messages = turn.bot_messages + 1
    turn.last_bot_at = timestamp
    turn.latency_seconds = max(timestamp - turn.user_at, 0.0)
    if response.startswith(CLARIFYING_PREFIX) and not turn.clarified:
        turn.clarified = True
        conversation.clarifications = conversation.clarifications + 1


def _action(conversation: Conversation, turn: Turn | None, name: str) -> None:
    if name in BOOKKEEPING_ACTIONS:
        return
    conversation.last_step = name
    conversation.handoff_running = name == HANDOFF_ACTION
    if name == HANDOFF_ACTION:
        asked = turn is not None and turn.intent == HUMAN_HANDOFF_INTENT
        conversation.offered_reason = CUSTOMER_REQUEST if asked else conversation.offered_reason or CUSTOMER_REQUEST
    elif (
        name == FALLBACK_ACTION
        and turn is not None
        and turn.fallback is None
        and not turn.csat_answer
        and turn.intent not in NOT_CORE
    ):
        turn.fallback = "core"
        conversation.fallbacks += 1


def _rejected(turn: Turn, name: str) -> None:
    """A message the comment question rejected as a new request is no CSAT answer: it counts as a request.

    Only a request intent is rejected (never `nlu_fallback`), so what follows (a core fallback, the resolution
    of the conversation) is counted for the turn from here on.
    """
    if name == CSAT_COMMENT_FORM:
        turn.csat_answer = False


def _slot(conversation: Conversation, name: str, value: Any) -> None:
    if name == REQUESTED_SLOT:
        conversation.requested_slot = str(value) if value and value != CSAT_COMMENT_SLOT else None
    elif name == PENDING_SLOT:
        conversation.pending = str(value) if value else None
    elif name == CSAT_RATING_SLOT:
        rating = csat_rating(value)
        if rating is not None:
            conversation.csat = rating  # the latest rating counts; an emptied slot takes nothing back
    elif name == HANDOFF_REASON_SLOT and not conversation.handoff_running:
        # as the action server labels it: the part before any `:`
        conversation.offered_reason = str(value).split(":", 1)[0] if value else None
