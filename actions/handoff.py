"""Handing a conversation to a person: a helpdesk ticket with everything said so far, then the bot pauses.

An agent's reply does not come back into the chat: the helpdesk keeps the ticket's messages, and the agent
answers by email, to the address of the customer on the ticket. So the shopper is told that, and when; an
unverified shopper has no customer on the ticket and is asked to write to customer service with its number.

The ticket holds no personal data as typed (docs/privacy.md): its transcript, summary and slots go through
foundation/pii.py, with the verified customer's known values (their email, phone and address in the CRM, and
what the conversation's personal slots hold). The customer id stays: the agent looks the customer up with it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk.events import ConversationPaused, SlotSet

from actions import formatting as fmt
from actions.backends import BackendError
from actions.backends.models import NewTicket, TranscriptLine
from actions.base import ShopAction, Turn
from actions.confirmation import CLEARED
from actions.observability import HANDOFFS
from actions.shop_policy import (
    REFUND_WINDOW_DAYS,
    SUPPORT_EMAIL,
    SUPPORT_HOURS_SATURDAY,
    SUPPORT_HOURS_WEEKDAYS,
    SUPPORT_PHONE,
    SUPPORT_TIMEZONE,
)
from foundation import correlation, pii

log = logging.getLogger("actions.handoff")

QUEUE_BY_GOAL = {
    "order_status": "orders",
    "cancel_order": "orders",
    "change_address": "orders",
    "invoice": "orders",
    "refund_status": "refunds",
    "request_refund": "refunds",
    "payment_issue": "payments",
    "update_account": "account",
}
QUEUE_BY_REASON = {
    "refund_failed": "refunds",
    "refund_outside_window": "refunds",
    "double_charge": "payments",
    "failed_payment": "payments",
    "payment_query": "payments",
    "verification_failed": "account",
}
URGENT = {"double_charge", "refund_failed"}
REASON_TEXT = {
    "customer_request": "the shopper asked for a person",
    "fallback": "the assistant did not understand the shopper twice in a row",
    "verification_failed": "the shopper could not be verified in chat",
    "refund_failed": "a refund to the shopper failed",
    "refund_outside_window": f"the shopper wants a refund outside the {REFUND_WINDOW_DAYS}-day window",
    "double_charge": "the shopper was charged twice",
    "failed_payment": "the shopper's payment failed",
    "payment_query": "the shopper questions a payment",
}
# How each queue is named to the shopper ("I've passed this to our refunds team").
TEAM_NAMES = {
    "orders": "utter_team_orders",
    "refunds": "utter_team_refunds",
    "payments": "utter_team_payments",
    "account": "utter_team_account",
    "general": "utter_team_general",
}
GOAL_TEXT = {
    "order_status": "where their order is",
    "refund_status": "where their refund is",
    "request_refund": "a refund",
    "cancel_order": "cancelling an order",
    "change_address": "a new delivery address",
    "payment_issue": "a payment problem",
    "invoice": "an invoice",
    "update_account": "updating their account",
}
HIDDEN_SLOTS = {"verification_code", "verification", "login_email", "pending_operation", "requested_slot"}
MAX_TRANSCRIPT = 80


def transcript(events: list[dict[str, Any]], known: list[str] | None = None) -> list[TranscriptLine]:
    """What was said, both ways, with one-time codes masked and personal data redacted (foundation/pii.py, with
    the customer's `known` values)."""
    known = known if known is not None else pii.known_values(events)
    lines: list[TranscriptLine] = []
    for event in events:
        kind, text = event.get("event"), event.get("text")
        if not text or kind not in ("user", "bot"):
            continue
        stamp = event.get("timestamp")
        if kind == "user":
            entities = (event.get("parse_data") or {}).get("entities") or []
            if any(e.get("entity") == "verification_code" for e in entities) or re.fullmatch(r"\s*\d{6}\s*", text):
                text = "[one-time code]"
        text = pii.redact(text, known)
        lines.append(
            TranscriptLine(
                sender="user" if kind == "user" else "bot",
                text=text[:4000],
                timestamp=None if stamp is None else str(stamp),
            )
        )
    return lines[-MAX_TRANSCRIPT:]


def intents_so_far(events: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for event in events:
        if event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name and name not in seen:
                seen.append(name)
    return seen


def queue_for(reason: str, goal: str | None) -> str:
    return QUEUE_BY_REASON.get(reason) or QUEUE_BY_GOAL.get(goal or "", "general")


async def known_values(turn: Turn) -> list[str]:
    """What the ticket must not hold as typed: the conversation's personal slots and, for a verified shopper,
    their email, phone and address in the CRM (without the CRM, the slots alone: the detectors still run)."""
    known = pii.known_values(turn.tracker.events)
    if turn.customer_id:
        try:
            customer = await turn.call(turn.clients.crm.get_customer, turn.customer_id)
        except BackendError as err:
            log.warning("handoff: the customer's known values are not at hand", extra={"error": str(err)})
        else:
            address = customer.address
            known += [customer.email, customer.phone, address.line1, address.line2 or "", address.postcode]
    return known


def build_ticket(turn: Turn, reason: str, known: list[str] | None = None) -> NewTicket:
    """The ticket an agent reads first: the queue and priority follow the issue; the facts are attached, with
    personal data redacted (`known`: the customer's known values, `known_values`)."""
    tracker = turn.tracker
    known = known if known is not None else pii.known_values(tracker.events)
    goal, order_id = turn.slot("goal"), turn.slot("order_id")
    base_reason = reason.split(":", 1)[0]
    why = REASON_TEXT.get(
        base_reason, "our systems were unavailable" if base_reason == "backend_unavailable" else base_reason
    )
    topic = GOAL_TEXT.get(goal or "", "a question")
    who = f"Verified customer {turn.customer_id}" if turn.customer_id else "An unverified shopper"
    last = (tracker.latest_message.get("text") or "").strip()
    summary = f"{who} asked about {topic}{f' (order {order_id})' if order_id else ''}. Handed over because {why}."
    if last and not last.startswith("/"):
        summary += f' Last message: "{pii.redact(last, known)[:300]}"'
    subject = f"{topic[0].upper()}{topic[1:]}" + (f" – order {order_id}" if order_id else "")
    slots = {
        k: pii.redact_value(v, known)
        for k, v in tracker.current_slot_values().items()
        if v is not None and k not in HIDDEN_SLOTS
    }
    return NewTicket(
        queue=queue_for(base_reason, goal),
        priority="high" if base_reason in URGENT else "normal",
        subject=subject[:200],
        summary=summary,
        transcript=transcript(tracker.events, known),
        metadata={
            "reason": reason,
            "customer_id": turn.customer_id,
            "verified": bool(turn.customer_id),
            "order_id": order_id,
            "goal": goal,
            "intents": intents_so_far(tracker.events),
            "slots": slots,
            "channel": tracker.get_latest_input_channel(),
        },
        customer_id=turn.customer_id,
        conversation_id=tracker.sender_id,
        correlation_id=correlation.get(),  # the message's: the agent finds the turn in the logs with it
    )


class ActionHandoff(ShopAction):
    """Create the ticket, tell the shopper its number, and pause the bot for this conversation."""

    action_name = "action_handoff"
    needs_verified_customer = False

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        intent = (turn.tracker.latest_message.get("intent") or {}).get("name")
        reason = (
            "customer_request" if intent == "human_handoff" else (turn.slot("handoff_reason") or "customer_request")
        )
        ticket = build_ticket(turn, reason, await known_values(turn))
        try:
            created = await turn.call(
                turn.clients.helpdesk.create_ticket,
                ticket,
                idempotency_key=turn.key("handoff", len(turn.tracker.events)),
            )
        except BackendError as err:
            log.error(
                "handoff failed: helpdesk unavailable",
                extra={"conversation": turn.conversation, "reason": reason, "error": str(err)},
            )
            order_id = ticket.metadata.get("order_id")
            turn.say(
                response="utter_handoff_unavailable_order" if order_id else "utter_handoff_unavailable",
                support_email=SUPPORT_EMAIL,
                support_phone=SUPPORT_PHONE,
                weekday_hours=SUPPORT_HOURS_WEEKDAYS,
                saturday_hours=SUPPORT_HOURS_SATURDAY,
                timezone=SUPPORT_TIMEZONE,
                order_id=order_id or "",
            )
            return list(CLEARED)
        HANDOFFS.labels(reason.split(":", 1)[0]).inc()
        # The ticket names the customer only when the shopper is verified; then the agent knows where to write.
        turn.say(
            response="utter_handoff_reply_by_email" if ticket.customer_id else "utter_handoff_email_us",
            team=fmt.phrase(turn.domain, response=TEAM_NAMES[ticket.queue]),
            ticket_id=created.id,
            support_email=SUPPORT_EMAIL,
            weekday_hours=SUPPORT_HOURS_WEEKDAYS,
            saturday_hours=SUPPORT_HOURS_SATURDAY,
            timezone=SUPPORT_TIMEZONE,
        )
        return [*CLEARED, SlotSet("handoff_ticket", str(created.id)), ConversationPaused()]
