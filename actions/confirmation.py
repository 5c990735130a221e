"""Yes and no to the question the assistant asked: carry out the pending change, or leave everything as it is.

A yes confirms only the question of the assistant's last turn: a proposal is bound to the shopper message it
answered (`asked_at`, set by `actions.orders.propose`), and any message in between (a new request, a topic switch,
a correction, an FAQ, a handoff) voids it. A yes to a voided proposal changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk.events import SlotSet

from actions.account import execute_update_contact
from actions.base import ASKED_AT, ShopAction, Turn
from actions.orders import execute_cancel, execute_change_address
from actions.refunds import execute_refund, execute_start_return
from audit.recorder import audited

Executor = Callable[[Turn, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
EXECUTORS: dict[str, Executor] = {
    "cancel_order": execute_cancel,
    "change_address": execute_change_address,
    "refund": execute_refund,
    "start_return": execute_start_return,
    "update_contact": execute_update_contact,
}
CLEARED = [SlotSet("pending", None), SlotSet("pending_operation", None), SlotSet("handoff_reason", None)]
# A change is made only on a clear yes: "huh?" or a stray word can look like "yes" to the model.
MIN_CONFIRM_CONFIDENCE = 0.8


def answers_the_last_question(turn: Turn, operation: dict[str, Any]) -> bool:
    """Whether this message is the shopper's first one since the assistant proposed the operation."""
    asked_at = operation.get(ASKED_AT)
    return isinstance(asked_at, int) and turn.user_turns == asked_at + 1


class ActionConfirmPending(ShopAction):
    """The shopper said yes: do the change that was proposed, exactly once."""

    action_name = "action_confirm_pending"

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        operation: dict[str, Any] = turn.slot("pending_operation") or {}
        executor = EXECUTORS.get(operation.get("op", ""))
        confidence = (turn.tracker.latest_message.get("intent") or {}).get("confidence") or 0.0
        if executor is not None and not answers_the_last_question(turn, operation):
            turn.say(response="utter_proposal_voided")
            return list(CLEARED)
        if executor is not None and confidence < MIN_CONFIRM_CONFIDENCE:
            turn.say(response="utter_confirm_again")  # asked again now: the next message may answer it
            return [
                SlotSet("pending", "confirm"),
                SlotSet("pending_operation", {**operation, ASKED_AT: turn.user_turns}),
            ]
        if executor is None:
            turn.say(response="utter_nothing_pending")
            return list(CLEARED)
        return list(CLEARED) + await audited(executor, turn, operation)  # one audit record per change


class ActionDeclinePending(ShopAction):
    """The shopper said no (or stop): change nothing and say so."""

    action_name = "action_decline_pending"
    needs_verified_customer = False

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        pending = turn.slot("pending")
        intent = (turn.tracker.latest_message.get("intent") or {}).get("name")
        if pending == "confirm":
            turn.say(response="utter_declined")
        elif pending == "handoff":
            turn.say(response="utter_no_handoff")
        elif intent == "stop":
            turn.say(response="utter_stopped")
        else:
            turn.say(response="utter_nothing_to_decline")
        return list(CLEARED)
