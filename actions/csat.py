"""CSAT: after a request the assistant resolved, the shopper is asked once for a rating and an optional comment.

The rules live here, in one place: when the question may be asked (`should_ask`), what counts as a rating
(`parse_rating`), what skips the comment (`is_skip`) and what, typed at the comment question, is a new request
rather than a comment (`is_new_request`). The moment is the shopper closing the chat: a goodbye,
or a "no" to "anything else?" after a thanks (data/rules/csat.yml), never mid-form, never with a question of
the assistant's still open, never after a handoff and never twice. The rating is stored as the `csat_rating`
slot, which the analytics consumer and the Rasa metrics read from the event stream; the comment as
`csat_comment`. docs/nlu.md#csat describes the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.clarification import OFFERABLE
from actions.correction import ActionCorrectOrder
from actions.fallback import ActionFallback
from actions.service_form import order_ids

RATING_SLOT = "csat_rating"
COMMENT_SLOT = "csat_comment"
ASKED_SLOT = "csat_asked"
# Which CSAT question is the open one: `rating` or `comment` (featurized: the rules answer by it).
STAGE_SLOT = "csat_stage"
LOWEST, HIGHEST = 1, 5
# A comment longer than this is cut: it is feedback, not a letter.
MAX_COMMENT_CHARS = 1000

# The questions a rating answers: the first ask, and the ask again after an answer that was not a rating.
RATING_QUESTIONS = frozenset({"utter_csat_question", "utter_csat_rating_invalid"})
# The answers that resolve a shopper's request: the assistant itself told them what they asked or did what
# they asked. A refusal, a problem passed on to a colleague or a question back is not one of them.
RESOLVED_RESPONSES = frozenset(
    {
        "utter_order_status_pending",
        "utter_order_status_paid",
        "utter_order_status_shipped",
        "utter_order_status_delivered",
        "utter_order_status_cancelled_on",
        "utter_order_status_cancelled",
        "utter_order_status_returned",
        "utter_order_status_other",
        "utter_cancelled_refund_on_its_way",
        "utter_cancelled_nothing_to_refund",
        "utter_address_changed",
        "utter_invoice_sent",
        "utter_refund_issued",
        "utter_refund_issued_overdue",
        "utter_refund_pending",
        "utter_refund_created",
        "utter_no_refund_not_shipped",
        "utter_no_refund_on_its_way",
        "utter_no_refund_cancelled_unpaid",
        "utter_no_refund_return_registered",
        "utter_no_refund",
        "utter_return_started",
        "utter_return_requested",
        "utter_return_in_transit",
        "utter_return_received",
        "utter_payment_as_expected",
        "utter_payment_failed_then_paid",
        "utter_payment_none",
        "utter_contact_changed",
    }
)
FAQ_ANSWER_PREFIX = "utter_faq/"  # a help-centre answer (data/responses/faq.yml)
HANDOFF_ACTION = "action_handoff"
GOAL_SLOT = "goal"

COMMENT_FORM = "csat_comment_form"
REQUESTED_SLOT = "requested_slot"
# The intents of a request the assistant acts on: the shop's services, a person, a help-centre question and
# "what can you do". A message at the comment question is a new request only with one of these, read with at
# least REQUEST_CONFIDENCE, and phrased as a question or a request (`asks_for_something`): a complaint that
# names an order, a refund or a delivery ("the tracking link didn't work") is the comment it looks like.
REQUEST_INTENTS = OFFERABLE  # the shop's requests, a person, help and FAQ: what a clarifying question offers
HANDOFF_INTENT = "human_handoff"
INFORM_INTENT = "inform"
# Well above the fallback threshold of config.yml: a guess between a request and a complaint stays a comment.
REQUEST_CONFIDENCE = 0.7
# "agent", "a real person please": a person asked for in so few words is a request, never a comment.
BARE_HANDOFF_WORDS = 4
# A message is read clause by clause: "the link was broken, can you send it again" asks in its second clause.
CLAUSE_BREAK = re.compile(r"[,;:.!]+|\s-\s|\b(?:and|but|so|also|then)\b", re.I)
LEAD_IN = re.compile(
    r"^(?:(?:actually|oh|ok(?:ay)?|so|hey|hi|hello|btw|by the way|one more thing|sorry|um+|hm+|please|pls|plz"
    r"|just|quick question|one question|now)\b\s*)+",
    re.I,
)
# What a question or a request starts with. An auxiliary asks only when a subject follows it ("did my refund
# go through" asks, "did not arrive" complains); a verb requests only when what it acts on follows it ("cancel
# my order" requests, "refund took too long" complains).
SUBJECT = r"(?:i|you|my|me|the|it|this|that|there|we|your|an?|order|\d+)\b"
ASKING = re.compile(
    r"(?:(?:where|when|what|which|who|whose|why|how)(?:'s|'re)?\b"
    rf"|(?:can|could|would|will|is|are|was|were|do|does|did|has|have|may|might|should|shall)\s+{SUBJECT}"
    r"|i(?:'d| would) like|id like|i want|i wanna|i need|i wish to|let me|help me|(?:talk|speak|chat) (?:to|with)"
    r"|(?:give|get|send|show|tell|email|put|connect|transfer) me"
    rf"|(?:cancel|change|update|send|resend|refund|return|track|check|start|find)\s+{SUBJECT})",
    re.I,
)
# A message that is nothing but an order number ("10234", "order #10234") is one, as at the rating question.
BARE_ORDER = re.compile(r"(?:order\s*)?(?:#|no\.?\s*|number\s*)?\d+", re.I)

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# "3/5", "4 out of 5", "5 of 5": the scale is dropped before the rating is looked for.
OUT_OF_FIVE = re.compile(r"\s*(?:/|\bout of\b|\bof\b)\s*(?:5|five)\b", re.I)
# Any run of digits, with its decimals: "10234" and "4.5" are numbers, but not ratings.
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
WORD = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.I)
STAR = "\u2b50"
SKIP = re.compile(
    r"(?:skip(?: it| that| this)?|no(?:pe|thing)?(?: thanks?| thank you)?|nah|none|not now|no comments?"
    r"|nothing (?:else|to add|really)|all good|n/?a|-+|\.+)",
    re.I,
)


def _session(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of the current session (after Rasa's latest `session_started`)."""
    current: list[dict[str, Any]] = []
    for event in events:
        if event.get("event") == "session_started":
            current = []
        else:
            current.append(event)
    return current


def _last_slot_value(events: list[dict[str, Any]], name: str) -> Any:
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def _active_loop(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        if event.get("event") == "active_loop":
            return event.get("name")
    return None


def _response(event: dict[str, Any]) -> str:
    return str((event.get("metadata") or {}).get("utter_action") or "")


def resolved(response: str) -> bool:
    """Whether a bot message sent with `response` answered or carried out what the shopper asked."""
    return response in RESOLVED_RESPONSES or response.startswith(FAQ_ANSWER_PREFIX)


def should_ask(events: Iterable[dict[str, Any]]) -> bool:
    """Whether the rating question may be asked now, from the conversation's events.

    Only after the assistant resolved a request itself, never twice in a conversation, never once a person
    was asked for, and never while a form or one of the assistant's questions (a change to confirm, a
    colleague offered) is still open.
    """
    session = _session(events)
    if _last_slot_value(session, ASKED_SLOT) or _active_loop(session):
        return False
    if _last_slot_value(session, "pending") is not None:
        return False
    handed_off = any(
        (e.get("event") == "action" and e.get("name") == HANDOFF_ACTION)
        or e.get("event") == "pause"
        or (e.get("event") == "slot" and e.get("name") == "handoff_ticket" and e.get("value"))
        for e in session
    )
    if handed_off:
        return False
    return any(e.get("event") == "bot" and resolved(_response(e)) for e in session)


def goal_before_latest_message(events: Iterable[dict[str, Any]]) -> Any:
    """The `goal` slot as it was before the shopper's latest message (its intent may have set it since)."""
    history = list(events)
    latest = max((i for i, e in enumerate(history) if e.get("event") == "user"), default=len(history))
    return _last_slot_value(_session(history[:latest]), GOAL_SLOT)


def rating_question_is_last(events: Iterable[dict[str, Any]]) -> bool:
    """Whether the assistant's latest message is the rating question, so the shopper's answer can be a rating."""
    for event in reversed(list(events)):
        if event.get("event") == "bot":
            return _response(event) in RATING_QUESTIONS
    return False


def parse_rating(text: str) -> int | None:
    """The rating a typed answer gives ("4", "5 stars", "four", "3/5", "it was ok, 3"), or None.

    One rating only: a message with another number in it (an order number, a code, "4.5", "3 or 4") is not
    a rating.
    """
    text = OUT_OF_FIVE.sub(" ", text or "")
    numbers = NUMBER.findall(text)
    words = [WORDS[w.lower()] for w in WORD.findall(text)]
    stars = text.count(STAR)
    candidates = [int(n) if n.isdigit() else None for n in numbers] + words + ([stars] if stars else [])
    if len(set(candidates)) != 1:
        return None
    value = candidates[0]
    return value if value is not None and LOWEST <= value <= HIGHEST else None


def rating_of(message: dict[str, Any]) -> int | None:
    """The rating of the shopper's message: a button's `csat_rating` entity, else what the text says."""
    for entity in message.get("entities") or []:
        if entity.get("entity") == RATING_SLOT:
            try:
                value = int(str(entity.get("value")))
            except ValueError:
                return None
            return value if LOWEST <= value <= HIGHEST else None
    return parse_rating(message.get("text") or "")


def is_skip(text: str) -> bool:
    """Whether an answer to the comment question declines to comment ("skip", "no thanks", "nothing, all good")."""
    parts = [re.sub(r"[\s!.]+$", "", part.strip()) for part in re.split(r"[,;]", text or "")]
    return any(parts) and all(SKIP.fullmatch(part) for part in parts if part)


def comment_of(text: str) -> str | None:
    """The comment to store from the answer to the comment question: None when the shopper skipped it."""
    text = (text or "").strip()
    if not text or is_skip(text):
        return None
    return text[:MAX_COMMENT_CHARS]


def asks_for_something(text: str) -> bool:
    """Whether a message is phrased as a question or a request: a `?`, or a clause that opens like one."""
    text = (text or "").replace("\u2019", "'").strip()
    if "?" in text:
        return True
    for clause in CLAUSE_BREAK.split(text):
        clause = LEAD_IN.sub("", clause.strip())
        if ASKING.match(clause):
            return True
    return False


def is_new_request(message: dict[str, Any]) -> bool:
    """Whether the shopper's answer to the comment question is a new request to handle instead of a comment.

    The comment question takes any text, so without this "actually, where is my order 10234?" would be thanked
    for as feedback and never answered. Feedback is the common answer and often names what it is about, so a
    message is a request only when NLU reads a request intent with confidence and the message asks for
    something (or is a bare call for a person, or nothing but an order number); anything else is the comment.
    """
    intent = message.get("intent") or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    text = (message.get("text") or "").strip()
    if name == INFORM_INTENT:
        has_order = any(e.get("entity") == "order_id" for e in message.get("entities") or [])
        return has_order and BARE_ORDER.fullmatch(text) is not None
    if name not in REQUEST_INTENTS or confidence < REQUEST_CONFIDENCE:
        return False
    if name == HANDOFF_INTENT and len(text.split()) <= BARE_HANDOFF_WORDS:
        return True
    return asks_for_something(text)


class ActionCsatOffer(Action):
    """Ask for the rating when the shopper closes the chat after a resolved request (`should_ask`)."""

    def name(self) -> str:
        return "action_csat_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        if should_ask(tracker.events):
            dispatcher.utter_message(response="utter_csat_question")
            return [SlotSet(ASKED_SLOT, True), SlotSet(STAGE_SLOT, "rating")]
        return [SlotSet(STAGE_SLOT, None)] if tracker.get_slot(STAGE_SLOT) else []


class ActionCsatRate(Action):
    """Store the shopper's rating (1-5) and open the comment question, or ask again for a number.

    A message NLU read as a rating but that holds an order number is handled as a bare order number
    (action_correct_order), and a rating when no rating question is open as a message not understood.
    """

    def name(self) -> str:
        return "action_csat_rate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        rating = rating_of(tracker.latest_message)
        if rating is None and order_ids(tracker):  # "10234, thanks" read as a rating: it is an order number
            return await ActionCorrectOrder().run(dispatcher, tracker, domain)
        if not rating_question_is_last(tracker.events):  # a rating nobody asked for is not one
            return await ActionFallback().run(dispatcher, tracker, domain)
        if rating is None:
            dispatcher.utter_message(response="utter_csat_rating_invalid")
            return []
        dispatcher.utter_message(response="utter_csat_rated_high" if rating >= 4 else "utter_csat_rated_low")
        return [SlotSet(RATING_SLOT, rating), SlotSet(STAGE_SLOT, "comment")]


class ActionCsatSkip(Action):
    """The shopper would rather not rate: say that's fine, and never ask again in this conversation."""

    def name(self) -> str:
        return "action_csat_skip"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        dispatcher.utter_message(response="utter_csat_skipped")
        return [SlotSet(STAGE_SLOT, None)]


class ValidateCsatCommentForm(FormValidationAction):
    """The comment question: whatever the shopper answers is the comment, unless they skip it or ask for something.

    A new request (`is_new_request`) closes the CSAT question without a comment and rejects the form, so Rasa
    predicts the next action for the message as if no question were open: the rules for its intent (the
    service form, a help-centre answer, a person) handle it, and the comment question is never resumed.
    """

    def name(self) -> str:
        return "validate_csat_comment_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        if tracker.get_slot(STAGE_SLOT) == "comment" and is_new_request(tracker.latest_message):
            return [
                SlotSet(COMMENT_SLOT, None),
                SlotSet(STAGE_SLOT, None),
                SlotSet(REQUESTED_SLOT, None),
                ActiveLoop(None),
                ActionExecutionRejected(COMMENT_FORM),
            ]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        # Once answered (a comment or a skip), the question is closed even when no comment was stored.
        return list(domain_slots) if tracker.get_slot(STAGE_SLOT) == "comment" else []

    async def validate_csat_comment(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        slots: dict[str, Any] = {COMMENT_SLOT: comment_of(str(value or "")), STAGE_SLOT: None}
        # A comment that reads like a request ("the tracking link didn't work") set `goal` by its intent: the
        # shopper asked for nothing, so the request they had stays theirs.
        before = goal_before_latest_message(tracker.events)
        if tracker.get_slot(GOAL_SLOT) != before:
            slots[GOAL_SLOT] = before
        return slots
