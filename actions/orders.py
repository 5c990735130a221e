"""Orders: where an order is, cancelling it and changing where it goes (before it ships), its invoice."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any, Dict, List

from rasa_sdk.events import SlotSet

from actions import formatting as fmt
from actions.backends import Conflict
from actions.backends.models import Address, Order
from actions.base import OrderAction, Turn
from actions.shop_policy import can_cancel, can_change_address


def describe_status(order: Order, today: date) -> str:
    """One message that answers "where is my order?" for any status."""
    head = f"Order {order.id} ({fmt.items(order)})"
    if order.status == "pending":
        return (f"{head} is waiting for payment: we haven't received it yet. If the payment doesn't go "
                "through within 24 hours the order is cancelled automatically.")
    if order.status == "paid":
        return f"{head} is paid and being prepared in our warehouse. It usually ships within 1-2 business days."
    if order.status == "shipped" and order.shipment:
        s = order.shipment
        eta = s.estimated_delivery
        when = "today" if eta == today else ("tomorrow" if (eta - today).days == 1 else f"on {fmt.day(eta)}")
        return (f"{head} shipped on {fmt.day(s.shipped_at)} with {s.carrier} and should arrive {when}. "
                f"Tracking number: {s.tracking_number} ({s.tracking_url})")
    if order.status == "delivered" and order.shipment and order.shipment.delivered_at:
        return f"{head} was delivered on {fmt.day(order.shipment.delivered_at)} by {order.shipment.carrier}."
    if order.status == "cancelled":
        when = f" on {fmt.day(order.cancelled_at)}" if order.cancelled_at else ""
        return f"{head} was cancelled{when}."
    if order.status == "returned":
        return f"{head} was returned to us. Ask me \"where is my refund?\" to see where the money is."
    return f"{head} is {order.status}."


class ActionOrderStatus(OrderAction):
    """Answer "where is my order?": status, carrier, tracking number, estimated delivery."""

    action_name = "action_order_status"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        turn.say(text=describe_status(order, date.today()))
        return []


def propose(turn: Turn, text: str, operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Ask a yes/no question before changing anything; the operation waits in a slot for the answer."""
    operation = {**operation, "nonce": uuid.uuid4().hex}
    turn.say(text=text, buttons=[{"title": "Yes, go ahead", "payload": "/affirm"},
                                 {"title": "No, leave it", "payload": "/deny"}])
    return [SlotSet("pending", "confirm"), SlotSet("pending_operation", operation)]


class ActionCancelOrder(OrderAction):
    """Check that an order can still be cancelled, then ask before cancelling it."""

    action_name = "action_cancel_order"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        decision = can_cancel(order)
        if not decision.allowed:
            turn.say(text=cancel_refusal(order))
            return []
        refund = (f" The full {fmt.money(order.total, order.currency)} goes back to how you paid."
                  if order.status == "paid" else " You haven't been charged for it.")
        return propose(turn, f"Order {order.id} ({fmt.items(order)}) hasn't shipped yet, so I can cancel it.{refund} "
                             "Shall I cancel it?", {"op": "cancel_order", "order_id": order.id})


def cancel_refusal(order: Order) -> str:
    if order.status == "shipped":
        return (f"Order {order.id} has already shipped, so it can't be cancelled any more. Once it arrives you "
                "can return it within 30 days of delivery for a refund; refuse the parcel and it comes back to us too.")
    if order.status == "delivered":
        return (f"Order {order.id} has already been delivered, so it can't be cancelled. You can return it within "
                "30 days of delivery, or ask me for a refund.")
    if order.status == "cancelled":
        return f"Order {order.id} is already cancelled; there's nothing more to do."
    return f"Order {order.id} was returned, so there's nothing to cancel."


async def execute_cancel(turn: Turn, operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    order_id = operation["order_id"]
    try:
        result = await turn.call(turn.clients.orders.cancel_order, order_id,
                                 idempotency_key=turn.key("cancel", operation), reason="customer request via chat")
    except Conflict:
        order = await turn.owned_order(order_id)
        turn.say(text=cancel_refusal(order) if order else f"Order {order_id} can't be cancelled any more.")
        return []
    refunds = result.refunds
    if refunds:
        total = sum(r.amount for r in refunds)
        turn.say(text=f"Done: order {order_id} is cancelled. Your refund of {fmt.money(total, refunds[0].currency)} "
                      "is on its way to how you paid; you'll get an email confirmation too.")
    else:
        turn.say(text=f"Done: order {order_id} is cancelled. You weren't charged, so there's nothing to refund.")
    return []


class ActionChangeAddress(OrderAction):
    """Check that an order has not shipped, then ask before sending it somewhere else."""

    action_name = "action_change_address"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        if not can_change_address(order).allowed:
            turn.say(text=f"Order {order.id} has already left our warehouse ({order.status}), so I can't change "
                          "its address any more. The carrier's tracking page may let you redirect the parcel.")
            return [SlotSet("new_address", None)]
        new = Address(**json.loads(turn.slot("new_address")))
        if new.name is None:
            new = Address(**{**new.__dict__, "name": order.shipping_address.name})
        return propose(turn, f"I'll send order {order.id} to: {new.one_line()} instead of "
                             f"{order.shipping_address.one_line()}. Is that right?",
                       {"op": "change_address", "order_id": order.id, "address": new.to_json()})


async def execute_change_address(turn: Turn, operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    address = Address(**operation["address"])
    try:
        order = await turn.call(turn.clients.orders.change_shipping_address, operation["order_id"], address,
                                idempotency_key=turn.key("address", operation))
    except Conflict:
        turn.say(text=f"Order {operation['order_id']} shipped in the meantime, so I couldn't change its address.")
        return [SlotSet("new_address", None)]
    turn.say(text=f"Done: order {order.id} will go to {order.shipping_address.one_line()}.")
    return [SlotSet("new_address", None)]


class ActionSendInvoice(OrderAction):
    """Email the VAT invoice of a paid order to the address on file."""

    action_name = "action_send_invoice"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        try:
            invoice = await turn.call(turn.clients.orders.send_invoice, order.id,
                                      idempotency_key=turn.key("invoice", order.id, len(turn.tracker.events)))
        except Conflict:
            turn.say(text=f"Order {order.id} hasn't been paid, so there's no invoice for it yet.")
            return []
        turn.say(text=f"I've emailed invoice {invoice.invoice_number} for order {order.id} to {invoice.sent_to}. "
                      "It should arrive within a few minutes; do check your spam folder.")
        return []
