"""Orders: where an order is, cancelling it and changing where it goes (before it ships), its invoice."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from rasa_sdk.events import SlotSet

from actions import formatting as fmt
from actions import verification_age
from actions.backends import Conflict
from actions.backends.models import Address, Order
from actions.base import ASKED_AT, OrderAction, Turn
from actions.shop_policy import (
    DISPATCH_BUSINESS_DAYS,
    PAYMENT_WAIT_HOURS,
    REFUND_WINDOW_DAYS,
    can_cancel,
    can_change_address,
)


def say_status(turn: Turn, order: Order, today: date) -> None:
    """One message that answers "where is my order?" for any status."""
    order_id, items, shipment = order.id, fmt.items(turn.domain, order), order.shipment
    if order.status == "pending":
        turn.say(
            response="utter_order_status_pending", order_id=order_id, items=items, payment_wait_hours=PAYMENT_WAIT_HOURS
        )
    elif order.status == "paid":
        turn.say(
            response="utter_order_status_paid",
            order_id=order_id,
            items=items,
            dispatch_fastest=DISPATCH_BUSINESS_DAYS[0],
            dispatch_slowest=DISPATCH_BUSINESS_DAYS[1],
        )
    elif order.status == "shipped" and shipment:
        turn.say(
            response="utter_order_status_shipped",
            order_id=order_id,
            items=items,
            shipped_on=fmt.day(turn.domain, shipment.shipped_at),
            carrier=shipment.carrier,
            arrival=arrival(turn, shipment.estimated_delivery, today),
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
        )
    elif order.status == "delivered" and shipment and shipment.delivered_at:
        turn.say(
            response="utter_order_status_delivered",
            order_id=order_id,
            items=items,
            delivered_on=fmt.day(turn.domain, shipment.delivered_at),
            carrier=shipment.carrier,
        )
    elif order.status == "cancelled" and order.cancelled_at:
        turn.say(
            response="utter_order_status_cancelled_on",
            order_id=order_id,
            items=items,
            cancelled_on=fmt.day(turn.domain, order.cancelled_at),
        )
    elif order.status == "cancelled":
        turn.say(response="utter_order_status_cancelled", order_id=order_id, items=items)
    elif order.status == "returned":
        turn.say(response="utter_order_status_returned", order_id=order_id, items=items)
    else:
        turn.say(response="utter_order_status_other", order_id=order_id, items=items, status=order.status)


def arrival(turn: Turn, eta: date, today: date) -> str:
    """When a parcel should arrive, as the shopper says it: "today", "tomorrow" or "on Tue 26 Nov"."""
    if eta == today:
        return fmt.phrase(turn.domain, response="utter_arrival_today")
    if (eta - today).days == 1:
        return fmt.phrase(turn.domain, response="utter_arrival_tomorrow")
    return fmt.phrase(turn.domain, response="utter_arrival_on_day", day=fmt.day(turn.domain, eta))


class ActionOrderStatus(OrderAction):
    """Answer "where is my order?": status, carrier, tracking number, estimated delivery."""

    action_name = "action_order_status"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        say_status(turn, order, date.today())
        return []


def propose(turn: Turn, operation: dict[str, Any], *, response: str, **variables: Any) -> list[dict[str, Any]]:
    """Ask a yes/no question before changing anything; the operation waits in a slot for the answer.

    `response` is the question, with its yes and no buttons, in the domain. The operation records the shopper
    message it answers (`asked_at`), so that only the very next message can confirm it (actions/confirmation.py).
    A shopper verified too long ago is asked to verify again first (actions/verification_age.py).
    """
    if not verification_age.fresh_enough_for_a_change(turn):
        return verification_age.verify_again(turn)
    operation = {**operation, "nonce": uuid.uuid4().hex, ASKED_AT: turn.user_turns}
    turn.say(response=response, **variables)
    return [SlotSet("pending", "confirm"), SlotSet("pending_operation", operation)]


class ActionCancelOrder(OrderAction):
    """Check that an order can still be cancelled, then ask before cancelling it."""

    action_name = "action_cancel_order"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        decision = can_cancel(order)
        if not decision.allowed:
            say_cancel_refusal(turn, order)
            return []
        operation = {"op": "cancel_order", "order_id": order.id}
        if order.status == "paid":
            return propose(
                turn,
                operation,
                response="utter_confirm_cancel_paid",
                order_id=order.id,
                items=fmt.items(turn.domain, order),
                amount=fmt.money(order.total, order.currency),
            )
        return propose(
            turn,
            operation,
            response="utter_confirm_cancel_unpaid",
            order_id=order.id,
            items=fmt.items(turn.domain, order),
        )


def say_cancel_refusal(turn: Turn, order: Order) -> None:
    """Why an order that has left the warehouse (or is already cancelled) cannot be cancelled."""
    if order.status == "shipped":
        turn.say(response="utter_cancel_refused_shipped", order_id=order.id, refund_window_days=REFUND_WINDOW_DAYS)
    elif order.status == "delivered":
        turn.say(response="utter_cancel_refused_delivered", order_id=order.id, refund_window_days=REFUND_WINDOW_DAYS)
    elif order.status == "cancelled":
        turn.say(response="utter_cancel_refused_cancelled", order_id=order.id)
    else:
        turn.say(response="utter_cancel_refused_returned", order_id=order.id)


async def execute_cancel(turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Cancel the order the shopper said yes to, once, and tell them about the refund."""
    order_id = operation["order_id"]
    try:
        result = await turn.call(
            turn.clients.orders.cancel_order,
            order_id,
            idempotency_key=turn.key("cancel", operation),
            reason="customer request via chat",
        )
    except Conflict:
        order = await turn.owned_order(order_id)
        if order:
            say_cancel_refusal(turn, order)
        else:
            turn.say(response="utter_cancel_refused_no_longer", order_id=order_id)
        return []
    refunds = result.refunds
    if refunds:
        total = sum((r.amount for r in refunds), Decimal(0))
        turn.say(
            response="utter_cancelled_refund_on_its_way",
            order_id=order_id,
            amount=fmt.money(total, refunds[0].currency),
        )
    else:
        turn.say(response="utter_cancelled_nothing_to_refund", order_id=order_id)
    return []


class ActionChangeAddress(OrderAction):
    """Check that an order has not shipped, then ask before sending it somewhere else."""

    action_name = "action_change_address"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        if not can_change_address(order).allowed:
            turn.say(response="utter_address_change_refused", order_id=order.id, status=order.status)
            return [SlotSet("new_address", None)]
        new = Address(**json.loads(turn.slot("new_address")))
        if new.name is None:
            new = Address(**{**new.__dict__, "name": order.shipping_address.name})
        return propose(
            turn,
            {"op": "change_address", "order_id": order.id, "address": new.to_json()},
            response="utter_confirm_address_change",
            order_id=order.id,
            new_address=new.one_line(),
            old_address=order.shipping_address.one_line(),
        )


async def execute_change_address(turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Send the order to the address the shopper said yes to, unless it shipped in the meantime."""
    address = Address(**operation["address"])
    try:
        order = await turn.call(
            turn.clients.orders.change_shipping_address,
            operation["order_id"],
            address,
            idempotency_key=turn.key("address", operation),
        )
    except Conflict:
        turn.say(response="utter_address_change_too_late", order_id=operation["order_id"])
        return [SlotSet("new_address", None)]
    turn.say(response="utter_address_changed", order_id=order.id, address=order.shipping_address.one_line())
    return [SlotSet("new_address", None)]


class ActionSendInvoice(OrderAction):
    """Email the VAT invoice of a paid order to the address on file."""

    action_name = "action_send_invoice"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        try:
            invoice = await turn.call(
                turn.clients.orders.send_invoice,
                order.id,
                idempotency_key=turn.key("invoice", order.id, len(turn.tracker.events)),
            )
        except Conflict:
            turn.say(response="utter_invoice_not_paid", order_id=order.id)
            return []
        turn.say(
            response="utter_invoice_sent",
            order_id=order.id,
            invoice_number=invoice.invoice_number,
            sent_to=invoice.sent_to,
        )
        return []
