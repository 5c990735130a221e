"""Refunds: "where is my refund?" answered from the payment records, and new refunds by the policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Dict, List

from rasa_sdk.events import SlotSet

from actions import formatting as fmt
from actions.backends import Conflict
from actions.backends.models import Order, PaymentRecord, Refund
from actions.base import OrderAction, Turn, offer_handoff
from actions.orders import propose
from actions.shop_policy import bank_days, expected_arrival, refund_deadline, refund_eligibility


def describe_refund(refund: Refund, order_total: Decimal, today: date) -> str:
    """One refund in a sentence: amount, method, when it was issued and when the bank should show it."""
    amount = fmt.money(refund.amount, refund.currency)
    partial = f" (part of the {fmt.money(order_total, refund.currency)} order)" if refund.amount < order_total else ""
    low, high = bank_days(refund.method)
    bank = "a day" if high <= 1 else f"{low}-{high} business days"
    if refund.status == "issued":
        arrival = expected_arrival(refund)
        late = " It should be there by now; if it isn't, please check with your bank." if arrival < today else ""
        return (f"We refunded {amount}{partial} to your {fmt.method(refund)} on {fmt.day(refund.issued_at)}. "
                f"Banks usually take {bank} to show it, so expect it by {fmt.day(arrival)}.{late}")
    if refund.status == "pending":
        return (f"A refund of {amount}{partial} to your {fmt.method(refund)} is being processed since "
                f"{fmt.day(refund.created_at)}. We issue refunds within 2 business days; then your bank takes {bank}.")
    return (f"A refund of {amount}{partial} to your {fmt.method(refund)} failed on {fmt.day(refund.created_at)}"
            f"{': ' + refund.failure_reason if refund.failure_reason else ''}. The money hasn't left us, so it isn't lost.")


def no_refund_reason(order: Order, today: date) -> str:
    if order.status in ("pending", "paid"):
        return f"Order {order.id} hasn't shipped and there's no refund on it. If you want your money back, I can cancel it instead."
    if order.status == "shipped":
        return f"Order {order.id} is still on its way, so there's no refund on it yet."
    if order.status == "cancelled":
        return f"Order {order.id} was cancelled before any payment was taken, so there's nothing to refund."
    delivered = order.shipment.delivered_at.date() if order.shipment and order.shipment.delivered_at else None
    if order.status == "returned":
        return (f"Your return of order {order.id} is registered but no refund has been issued yet. We refund within "
                "2 business days after the parcel reaches our warehouse.")
    if delivered and today <= refund_deadline(delivered):
        return (f"There's no refund on order {order.id}. It was delivered on {fmt.day(delivered)}, so you can still "
                f"return it or ask for a refund until {fmt.day(refund_deadline(delivered))}.")
    return f"There's no refund on order {order.id}."


class ActionRefundStatus(OrderAction):
    """Answer "where is my refund?" with the refund's amount, method, dates and status."""

    action_name = "action_refund_status"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        payments: PaymentRecord = await turn.call(turn.clients.payments.payments_for_order, order.id)
        today = date.today()
        if not payments.refunds:
            turn.say(text=no_refund_reason(order, today))
            return []
        for refund in payments.refunds:
            turn.say(text=describe_refund(refund, order.total, today))
        if any(r.status == "failed" for r in payments.refunds) and not any(
            r.status in ("issued", "pending") for r in payments.refunds
        ):
            turn.say(text="A colleague from our payments team can send it again, for example to another account.")
            return offer_handoff(turn, "refund_failed")
        return []


REFUSALS = {
    "nothing_paid": "Order {id} hasn't been paid, so there's nothing to refund.",
    "cancelled_refunds_automatically": "Order {id} is cancelled, and cancelled orders are refunded automatically. "
                                       "Ask me \"where is my refund?\" to see where it is.",
    "not_shipped_cancel_instead": "Order {id} hasn't shipped yet. The quickest way to get your money back is to "
                                  "cancel it, which refunds the full amount. Say \"cancel my order\" if you'd like that.",
    "not_delivered_yet": "Order {id} is still on its way. Once it's delivered you can return it within 30 days "
                         "for a refund.",
    "already_refunded": "Order {id} has already been refunded in full (or the refund is on its way). "
                        "Ask me \"where is my refund?\" for the details.",
    "window_passed": "I'm sorry, order {id} was delivered on {delivered}, and refunds can be requested within "
                     "30 days of delivery, so until {deadline}. If the item is faulty, our 2-year warranty "
                     "still covers it.",
}


class ActionRequestRefund(OrderAction):
    """Apply the refund policy to an order; explain a refusal, or ask before refunding."""

    action_name = "action_request_refund"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        payments = await turn.call(turn.clients.payments.payments_for_order, order.id)
        decision = refund_eligibility(order, payments, date.today())
        if not decision.allowed:
            delivered = order.shipment.delivered_at.date() if order.shipment and order.shipment.delivered_at else None
            turn.say(text=REFUSALS[decision.reason].format(
                id=order.id,
                delivered=fmt.day(delivered) if delivered else "",
                deadline=fmt.day(refund_deadline(delivered)) if delivered else "",
            ))
            if decision.reason == "window_passed":
                return offer_handoff(turn, "refund_outside_window")
            return []
        charge = next(c for c in payments.charges if c.status == "succeeded")
        amount = fmt.money(decision.amount, order.currency)
        return propose(turn, f"Order {order.id} qualifies for a refund of {amount} to your {fmt.method(charge)}. "
                             "Shall I go ahead?",
                       {"op": "refund", "order_id": order.id, "amount": str(decision.amount)})


async def execute_refund(turn: Turn, operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    try:
        refund = await turn.call(turn.clients.payments.create_refund, operation["order_id"],
                                 amount=Decimal(operation["amount"]), reason="requested by customer via chat",
                                 idempotency_key=turn.key("refund", operation))
    except Conflict:
        turn.say(text=f"Order {operation['order_id']} has been refunded in the meantime, so I haven't refunded it twice.")
        return []
    low, high = bank_days(refund.method)
    turn.say(text=f"Done: refund {refund.id} of {fmt.money(refund.amount, refund.currency)} for order "
                  f"{refund.order_id} is on its way. We issue it within 2 business days, then your bank takes about "
                  f"{high if low == 0 else f'{low}-{high}'} business days. Keep the reference {refund.id} in case you need it.")
    return [SlotSet("order_id", refund.order_id)]
