"""A bare answer outside a form, such as "no, it's 10235": apply it to what the shopper was doing."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionUpdateAccount
from actions.orders import ActionCancelOrder, ActionChangeAddress, ActionOrderStatus, ActionSendInvoice
from actions.payments import ActionPaymentIssue
from actions.refunds import ActionRefundStatus, ActionRequestRefund
from actions.service_form import entity_values, order_ids

GOAL_ACTIONS = {
    "order_status": ActionOrderStatus,
    "refund_status": ActionRefundStatus,
    "request_refund": ActionRequestRefund,
    "cancel_order": ActionCancelOrder,
    "change_address": ActionChangeAddress,
    "payment_issue": ActionPaymentIssue,
    "invoice": ActionSendInvoice,
    "update_account": ActionUpdateAccount,
}


async def rerun(
    goal_action: type,
    events: list[dict[str, Any]],
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: dict[str, Any],
) -> list[dict[str, Any]]:
    """Run the request's action here, on the corrected slots, inside this turn.

    A FollowupAction would leave Rasa at a step no rule continues, so the core fallback would have to end
    the turn with an extra round trip to this server.
    """
    corrected = tracker.copy()
    corrected.add_slots(events)
    return events + await goal_action().run(dispatcher, corrected, domain)


class ActionCorrectOrder(Action):
    """Re-run the current request with the corrected order number, or ask what to do with it."""

    def name(self) -> str:
        return "action_correct_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        goal = tracker.get_slot("goal")
        numbers = order_ids(tracker)
        contact = entity_values(tracker, "email") + entity_values(tracker, "phone")
        reset = [SlotSet("pending", None), SlotSet("pending_operation", None)]
        if numbers and goal:
            events: list[dict[str, Any]] = [*reset, SlotSet("order_id", numbers[0])]
            if not tracker.get_slot("customer_id"):
                return [*events, FollowupAction("service_form")]
            return await rerun(GOAL_ACTIONS[goal], events, dispatcher, tracker, domain)
        if contact and goal == "update_account" and tracker.get_slot("customer_id"):
            return await rerun(
                ActionUpdateAccount, [*reset, SlotSet("new_contact", contact[0])], dispatcher, tracker, domain
            )
        if numbers:
            order_id = numbers[0]
            dispatcher.utter_message(response="utter_what_to_do_with_order", order_id=order_id)
            return [SlotSet("order_id", order_id)]
        dispatcher.utter_message(response="utter_help")
        return []
