"""Prometheus metrics of the Rasa server: messages, turns, intents, fallbacks, clarifications, handoffs, CSAT and
lock waits.

`export_metrics` is one of the runtime's patches (rasa_runtime/patches.py, `RASA_PATCH_METRICS`). It wraps, keeping
what each does:

- `MessageProcessor.handle_message` (one shopper's message, the turn): counts the message received and any error,
  times the turn, and reads the events the turn added: the top-level intent after NLU, the bot messages sent,
  the fallbacks (`nlu`: the message became `nlu_fallback`; `core`: `action_fallback` ran for a message that was
  understood, so no rule or story knew the next step), a clarifying question asked, a `handoff_reason` set, and
  CSAT (actions/csat.py): the rating question asked (`csat_asked` set), a rating given (`csat_rating` set to 1-5)
  or the rating skipped (`action_csat_skip` ran).
- `MessageProcessor.log_message`, which the turn calls first: it hands the turn's tracker to the wrapper above
  (only inside a turn; the HTTP API's own calls are left alone).
- `Agent.handle_message`, which takes the conversation's lock before the turn: the time until the turn starts is
  the lock wait, whichever lock store the endpoints file names.

`python -m rasa_runtime run` serves them on `RASA_METRICS_HOST:RASA_METRICS_PORT` (default 127.0.0.1:9106, 0: off;
`serve`), with every other metric of the process's default registry (the channels' delivery failures).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import Field

from foundation.metrics_endpoint import serve_metrics
from foundation.settings import PortOrZero, ProcessSettings

log = logging.getLogger("rasa_runtime.metrics")

# The input channels a label may name (the project's connectors, Rasa's shell); any other is `other`, because
# Rasa's own REST channel takes `input_channel` from the request body.
CHANNELS = frozenset({"rest", "slack", "teams", "whatsapp", "cmdline"})
OTHER = "other"
NLU_FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK_ACTION = "action_fallback"  # config.yml's core_fallback_action_name, also the rules' answer to a miss
# The responses of a clarifying question, which action_fallback asks (actions/clarification.py, `ask`).
CLARIFYING_RESPONSES = frozenset({"utter_clarify", "utter_clarify_one"})
HANDOFF_REASON_SLOT = "handoff_reason"
# CSAT (actions/csat.py): the slots its actions set and the action that takes a "no thanks" to the question.
CSAT_ASKED_SLOT = "csat_asked"
CSAT_RATING_SLOT = "csat_rating"
CSAT_SKIP_ACTION = "action_csat_skip"
CSAT_SCALE = range(1, 6)  # the ratings a shopper can give

# Rasa's metrics live in a registry of their own: the action server registers two of the same names
# (assistant_fallbacks_total, assistant_handoffs_total) in the default one, and a process that imports both (the
# tests) must be able to. `serve` exports both registries.
REGISTRY = CollectorRegistry()
MESSAGES_RECEIVED = Counter(
    "assistant_messages_received_total",
    "Shoppers' messages the Rasa server handled, by channel.",
    ["channel"],
    registry=REGISTRY,
)
MESSAGES_REPLAYED = Counter(
    "assistant_messages_replayed_total",
    "Retries of a message whose turn was already stored, answered from the store (rasa_runtime/idempotent_turns.py) "
    "and not counted as received, by channel.",
    ["channel"],
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "assistant_messages_sent_total",
    "Bot messages the Rasa server's turns sent, by channel.",
    ["channel"],
    registry=REGISTRY,
)
TURN_SECONDS = Histogram(
    "assistant_turn_seconds",
    "Time to handle one shopper's message (NLU, actions, saving), the lock wait excluded, by channel.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
INTENTS = Counter(
    "assistant_intents_total", "Shoppers' messages by top-level intent after NLU.", ["intent"], registry=REGISTRY
)
FALLBACKS = Counter(
    "assistant_fallbacks_total", "Messages the assistant did not understand, by stage.", ["stage"], registry=REGISTRY
)
CLARIFICATIONS = Counter(
    "assistant_clarifications_total", "Clarifying questions asked (Do you mean A or B?).", registry=REGISTRY
)
HANDOFFS = Counter(
    "assistant_handoffs_total",
    "Turns that set a reason to hand the conversation to a person, by reason.",
    ["reason"],
    registry=REGISTRY,
)
LOCK_WAIT_SECONDS = Histogram(
    "assistant_lock_wait_seconds",
    "Time a message waited for its conversation's lock before its turn started.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
CSAT_ASKED = Counter(
    "assistant_csat_asked_total", "Times the assistant asked the shopper to rate the conversation.", registry=REGISTRY
)
CSAT_RATED = Counter(
    "assistant_csat_ratings_total",
    "Ratings shoppers gave the conversation (1-5), by rating.",
    ["rating"],
    registry=REGISTRY,
)
CSAT_SKIPPED = Counter(
    "assistant_csat_skipped_total", "Times a shopper declined to rate the conversation.", registry=REGISTRY
)
TURN_ERRORS = Counter("assistant_turn_errors_total", "Turns that ended with an exception.", registry=REGISTRY)


class RasaMetricsSettings(ProcessSettings):
    """Where the Rasa server serves its `/metrics`: a port of its own, so that every replica has one."""

    port: PortOrZero = Field(9106, env="RASA_METRICS_PORT")  # 0: no metrics endpoint
    host: str = Field("127.0.0.1", env="RASA_METRICS_HOST")


def channel_label(input_channel: str | None) -> str:
    """The `channel` label of a message: its input channel when it is one of ours, else `other`."""
    return input_channel if input_channel in CHANNELS else OTHER


def intent_label(intent: str | None, known: Iterable[str]) -> str:
    """The `intent` label: a domain intent (`faq` whole, not by topic), `other` for anything else (`/made_up`)."""
    return intent if intent and intent in known else OTHER


@dataclass
class TurnOutcome:
    """What one turn's events say: the intent, the bot messages, fallbacks, a clarifying question, handoff reasons."""

    intent: str | None = None
    sent: int = 0
    fallbacks: list[str] = field(default_factory=list)
    clarified: bool = False
    handoff_reasons: list[str] = field(default_factory=list)
    csat_asked: bool = False
    csat_rating: str | None = None  # "1".."5": the label of the rating given in the turn
    csat_skipped: bool = False


def csat_rating(value: Any) -> int | None:
    """A `csat_rating` slot value as a rating 1-5; None for anything else, so a bad value is never a label or a
    rating in the analytics. It may arrive as an int, a float from a button payload (`4.0`) or a numeric string."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or int(number) not in CSAT_SCALE:
        return None
    return int(number)


def turn_outcome(events: Iterable[Any]) -> TurnOutcome:
    """Read a turn's events, from the shopper's message on, into what the metrics count."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    outcome = TurnOutcome()
    fallback_ran = False
    for event in events:
        if isinstance(event, UserUttered) and outcome.intent is None:
            outcome.intent = (event.intent or {}).get("name")
        elif isinstance(event, BotUttered):
            outcome.sent += 1
            outcome.clarified |= (event.metadata or {}).get("utter_action") in CLARIFYING_RESPONSES
        elif isinstance(event, ActionExecuted) and event.action_name == FALLBACK_ACTION:
            fallback_ran = True
        elif isinstance(event, ActionExecuted) and event.action_name == CSAT_SKIP_ACTION:
            outcome.csat_skipped = True
        elif isinstance(event, SlotSet) and event.key == HANDOFF_REASON_SLOT and event.value:
            outcome.handoff_reasons.append(str(event.value).split(":", 1)[0])  # as the action server labels it
        elif isinstance(event, SlotSet) and event.key == CSAT_ASKED_SLOT and event.value is True:
            outcome.csat_asked = True
        elif isinstance(event, SlotSet) and event.key == CSAT_RATING_SLOT and event.value is not None:
            rating = csat_rating(event.value)
            outcome.csat_rating = str(rating) if rating is not None else outcome.csat_rating
    if outcome.intent == NLU_FALLBACK:
        outcome.fallbacks.append("nlu")
    elif fallback_ran and outcome.intent != OUT_OF_SCOPE:
        outcome.fallbacks.append("core")
    return outcome


def count_turn(outcome: TurnOutcome, channel: str, known_intents: Iterable[str]) -> None:
    """Add one turn's outcome to the metrics."""
    INTENTS.labels(intent_label(outcome.intent, known_intents)).inc()
    if outcome.sent:
        MESSAGES_SENT.labels(channel).inc(outcome.sent)
    for stage in outcome.fallbacks:
        FALLBACKS.labels(stage).inc()
    if outcome.clarified:
        CLARIFICATIONS.inc()
    for reason in outcome.handoff_reasons:
        HANDOFFS.labels(reason).inc()
    if outcome.csat_asked:
        CSAT_ASKED.inc()
    if outcome.csat_rating:
        CSAT_RATED.labels(outcome.csat_rating).inc()
    if outcome.csat_skipped:
        CSAT_SKIPPED.inc()


@dataclass
class _Turn:
    """The turn in progress in this task: its tracker once log_message has it, where its events start."""

    tracker: Any = None
    first_event: int = 0
    replayed: bool = False  # answered from the store: a retry of a stored turn (rasa_runtime/idempotent_turns.py)


_TURN: ContextVar[_Turn | None] = ContextVar("larkspur_turn", default=None)
_LOCK_REQUESTED: ContextVar[float | None] = ContextVar("larkspur_lock_requested", default=None)


def answered_from_the_store() -> None:
    """The message being handled is a retry of a turn already stored, answered from the store: it is counted as a
    replay, not as one more message received (does nothing outside a counted turn)."""
    turn = _TURN.get()
    if turn is not None:
        turn.replayed = True


def _events_since(tracker: Any, first: int) -> list[Any]:
    """The tracker's events from index `first` on, read from the end (a turn's cost must not grow with the chat)."""
    newest_first = list(itertools.islice(reversed(tracker.events), max(len(tracker.events) - first, 0)))
    return newest_first[::-1]


def _last_user_message_index(tracker: Any) -> int:
    """Where the tracker's latest shopper message is (the one log_message has just added)."""
    from rasa.shared.core.events import UserUttered

    for offset, event in enumerate(reversed(tracker.events)):
        if isinstance(event, UserUttered):
            return len(tracker.events) - 1 - offset
    return len(tracker.events)


def _count_handled(turn: _Turn, channel: str, seconds: float, known_intents: Iterable[str]) -> None:
    """A message handled (not a replay): one more received, its latency, and what its turn did."""
    MESSAGES_RECEIVED.labels(channel).inc()
    TURN_SECONDS.labels(channel).observe(seconds)
    if turn.tracker is None:
        return
    try:
        count_turn(turn_outcome(_events_since(turn.tracker, turn.first_event)), channel, known_intents)
    except Exception:  # counting must never change what the shopper got
        log.exception("could not count the turn's events")


def export_metrics() -> None:
    """Count every turn, message, intent, fallback, clarification, handoff reason, CSAT answer and lock wait."""
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message
    if hasattr(original, "__wrapped__"):
        return
    original_log_message = MessageProcessor.log_message
    original_agent_handle = Agent.handle_message

    async def agent_handle_message(self: Any, message: Any) -> Any:
        token = _LOCK_REQUESTED.set(time.perf_counter())
        try:
            return await original_agent_handle(self, message)
        finally:
            _LOCK_REQUESTED.reset(token)

    async def log_message(self: Any, message: Any, should_save_tracker: bool = True) -> Any:
        tracker = await original_log_message(self, message, should_save_tracker)
        turn = _TURN.get()
        if turn is not None and turn.tracker is None:
            turn.tracker, turn.first_event = tracker, _last_user_message_index(tracker)
        return tracker

    async def handle_message(self: Any, message: Any) -> Any:
        started = time.perf_counter()
        requested = _LOCK_REQUESTED.get()
        if requested is not None:
            LOCK_WAIT_SECONDS.observe(started - requested)
            _LOCK_REQUESTED.set(None)  # a turn handled inside this one waited for no lock
        channel = channel_label(message.input_channel)
        turn = _Turn()
        token = _TURN.set(turn)
        try:
            return await original(self, message)
        except Exception:
            TURN_ERRORS.inc()
            raise
        finally:
            _TURN.reset(token)
            if turn.replayed:  # a retry of a stored turn: no new message, nothing new to count
                MESSAGES_REPLAYED.labels(channel).inc()
            else:
                _count_handled(turn, channel, time.perf_counter() - started, self.domain.intents)

    handle_message.__wrapped__ = original  # type: ignore[attr-defined]
    log_message.__wrapped__ = original_log_message  # type: ignore[attr-defined]
    agent_handle_message.__wrapped__ = original_agent_handle  # type: ignore[attr-defined]
    MessageProcessor.handle_message = handle_message
    MessageProcessor.log_message = log_message
    Agent.handle_message = agent_handle_message


def exported_registry() -> CollectorRegistry:
    """What the Rasa server's `/metrics` shows: Rasa's metrics, then the default registry's (the process, Python,
    the channels' delivery failures)."""
    both = CollectorRegistry()
    both.register(REGISTRY)
    both.register(prometheus_client.REGISTRY)
    return both


def serve(settings: RasaMetricsSettings | None = None) -> bool:
    """Serve `/metrics` for this Rasa process (once; False when RASA_METRICS_PORT is 0 or its port is taken)."""
    settings = settings or RasaMetricsSettings.current()
    return serve_metrics(settings.port, settings.host, "RASA_METRICS_PORT", log, exported_registry())
