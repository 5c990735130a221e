"""Refunds: "where is my refund?" answered from the payment records, and new refunds by the policy: a delivered
order comes back first (a return, started here on a yes), a returned one is refunded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rasa_sdk.events import SlotSet

from actions import formatting as fmt
from actions.backends import Conflict
from actions.backends.models import Order, PaymentRecord, Refund, Return
from actions.base import OrderAction, Turn, offer_handoff
from actions.orders import propose
from actions.shop_policy import (
    REFUND_ISSUE_BUSINESS_DAYS,
    REFUND_WINDOW_DAYS,
    WARRANTY_YEARS,
    Decision,
    bank_days,
    expected_arrival,
    open_return,
    refund_deadline,
    refund_eligibility,
    returnable_items,
)

# Order states in which an order can have returns (so the order system is asked for them).
MAY_HAVE_RETURNS = ("delivered", "returned")


def bank_time(turn: Turn, refund_method: str) -> str:
    """How long the shopper's bank or provider takes to show a refund: "a day", or a span of business days."""
    fastest, slowest = bank_days(refund_method)
    if slowest <= 1:
        return fmt.phrase(turn.domain, response="utter_bank_time_a_day")
    return fmt.phrase(turn.domain, response="utter_bank_time_business_days", fastest=fastest, slowest=slowest)


def refund_amount(turn: Turn, refund: Refund, order_total: Decimal) -> str:
    """The refund's amount, saying so when it is only part of the order's total."""
    amount = fmt.money(refund.amount, refund.currency)
    if refund.amount < order_total:
        return fmt.phrase(
            turn.domain,
            response="utter_refund_amount_partial",
            amount=amount,
            order_total=fmt.money(order_total, refund.currency),
        )
    return amount


def say_refund(turn: Turn, refund: Refund, order_total: Decimal, today: date) -> None:
    """One refund in a message: amount, method, when it was issued and when the bank should show it."""
    amount, method = refund_amount(turn, refund, order_total), fmt.method(refund)
    if refund.status == "issued":
        arrival = expected_arrival(refund)
        assert (
            refund.issued_at is not None and arrival is not None
        )  # an issued refund carries its date, which the message names
        turn.say(
            response="utter_refund_issued_overdue" if arrival < today else "utter_refund_issued",
            refund_amount=amount,
            method=method,
            issued_on=fmt.day(turn.domain, refund.issued_at),
            bank_time=bank_time(turn, refund.method),
            expected_by=fmt.day(turn.domain, arrival),
        )
    elif refund.status == "pending":
        turn.say(
            response="utter_refund_pending",
            refund_amount=amount,
            method=method,
            processing_since=fmt.day(turn.domain, refund.created_at),
            refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
            bank_time=bank_time(turn, refund.method),
        )
    elif refund.failure_reason:
        turn.say(
            response="utter_refund_failed_because",
            refund_amount=amount,
            method=method,
            failed_on=fmt.day(turn.domain, refund.created_at),
            reason=refund.failure_reason,
        )
    else:
        turn.say(
            response="utter_refund_failed",
            refund_amount=amount,
            method=method,
            failed_on=fmt.day(turn.domain, refund.created_at),
        )


def say_no_refund(turn: Turn, order: Order, today: date) -> None:
    """Why an order has no refund, and what the shopper can do about it."""
    delivered = order.shipment.delivered_at.date() if order.shipment and order.shipment.delivered_at else None
    if order.status in ("pending", "paid"):
        turn.say(response="utter_no_refund_not_shipped", order_id=order.id)
    elif order.status == "shipped":
        turn.say(response="utter_no_refund_on_its_way", order_id=order.id)
    elif order.status == "cancelled":
        turn.say(response="utter_no_refund_cancelled_unpaid", order_id=order.id)
    elif order.status == "returned":
        turn.say(
            response="utter_no_refund_return_registered",
            order_id=order.id,
            refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
        )
    elif delivered and today <= refund_deadline(delivered):
        turn.say(
            response="utter_no_refund_can_still_ask",
            order_id=order.id,
            delivered_on=fmt.day(turn.domain, delivered),
            deadline=fmt.day(turn.domain, refund_deadline(delivered)),
        )
    else:
        turn.say(response="utter_no_refund", order_id=order.id)


class ActionRefundStatus(OrderAction):
    """Answer "where is my refund?" with the refund's amount, method, dates and status."""

    action_name = "action_refund_status"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        payments: PaymentRecord = await turn.call(turn.clients.payments.payments_for_order, order.id)
        today = date.today()
        if not payments.refunds:
            on_its_way = open_return(await returns_of(turn, order))
            if on_its_way is not None:
                say_return(turn, on_its_way)
            else:
                say_no_refund(turn, order, today)
            return []
        for refund in payments.refunds:
            say_refund(turn, refund, order.total, today)
        if any(r.status == "failed" for r in payments.refunds) and not any(
            r.status in ("issued", "pending") for r in payments.refunds
        ):
            turn.say(response="utter_refund_failed_can_resend")
            return offer_handoff(turn, "refund_failed")
        return []


# Why the policy says no (shop_policy.Decision.reason), and the response that explains it.
REFUSALS = {
    "nothing_paid": "utter_refund_refused_nothing_paid",
    "cancelled_refunds_automatically": "utter_refund_refused_cancelled",
    "not_shipped_cancel_instead": "utter_refund_refused_not_shipped",
    "not_delivered_yet": "utter_refund_refused_not_delivered",
    "already_refunded": "utter_refund_refused_already_refunded",
}


class ActionRequestRefund(OrderAction):
    """Apply the refund policy to an order: explain a refusal, offer the return a delivered order needs first,
    say where its return is, or ask before refunding."""

    action_name = "action_request_refund"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        payments = await turn.call(turn.clients.payments.payments_for_order, order.id)
        returns = await returns_of(turn, order)
        decision = refund_eligibility(order, payments, date.today(), returns)
        if decision.reason == "window_passed":
            shipment = order.shipment
            assert shipment is not None and shipment.delivered_at is not None  # the window runs from delivery
            delivered = shipment.delivered_at.date()
            turn.say(
                response="utter_refund_refused_window_passed",
                order_id=order.id,
                delivered_on=fmt.day(turn.domain, delivered),
                refund_window_days=REFUND_WINDOW_DAYS,
                deadline=fmt.day(turn.domain, refund_deadline(delivered)),
                warranty_years=WARRANTY_YEARS,
            )
            return offer_handoff(turn, "refund_outside_window")
        if decision.reason in RETURN_REASONS:
            return answer_by_return(turn, order, payments, returns, decision)
        if not decision.allowed:
            turn.say(response=REFUSALS[decision.reason], order_id=order.id, refund_window_days=REFUND_WINDOW_DAYS)
            return []
        charge = next(c for c in payments.charges if c.status == "succeeded")
        return propose(
            turn,
            {"op": "refund", "order_id": order.id, "amount": str(decision.amount)},
            response="utter_confirm_refund",
            order_id=order.id,
            amount=fmt.money(decision.amount, order.currency),
            method=fmt.method(charge),
        )


async def execute_refund(turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Create the refund the shopper said yes to, once, and give its reference."""
    try:
        refund = await turn.call(
            turn.clients.payments.create_refund,
            operation["order_id"],
            amount=Decimal(operation["amount"]),
            reason="requested by customer via chat",
            idempotency_key=turn.key("refund", operation),
        )
    except Conflict:
        turn.say(response="utter_refund_already_done", order_id=operation["order_id"])
        return []
    turn.say(
        response="utter_refund_created",
        refund_id=refund.id,
        amount=fmt.money(refund.amount, refund.currency),
        order_id=refund.order_id,
        refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
        bank_time=bank_time(turn, refund.method),
    )
    return [SlotSet("order_id", refund.order_id)]


# The policy's answers (shop_policy.refund_eligibility) that are about the order's return.
RETURN_REASONS = ("return_first", "return_requested", "return_in_transit", "return_received")


def answer_by_return(
    turn: Turn, order: Order, payments: PaymentRecord, returns: list[Return], decision: Decision
) -> list[dict[str, Any]]:
    """A delivered order is refunded once it is back: offer to start its return, or say where the return is."""
    if decision.reason == "return_received":
        say_arrived_return(turn, order, payments, returns)
        return []
    if decision.reason != "return_first":
        say_return(turn, open_return(returns))
        return []
    charge = next(c for c in payments.charges if c.status == "succeeded")
    return propose(
        turn,
        {
            "op": "start_return",
            "order_id": order.id,
            "items": returnable_items(order, returns),
            "amount": str(decision.amount),
            "currency": order.currency,
            "method": charge.method,
        },
        response="utter_confirm_start_return",
        order_id=order.id,
        items=fmt.items(turn.domain, order),
        amount=fmt.money(decision.amount, order.currency),
        refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
    )


async def returns_of(turn: Turn, order: Order) -> list[Return]:
    """The order's returns, asked of the order system only for an order that can have any."""
    if order.status not in MAY_HAVE_RETURNS:
        return []
    return await turn.call(turn.clients.orders.returns_for_order, order.id)


def say_return(turn: Turn, ret: Return | None) -> None:
    """Where a return that has not reached the warehouse is: label issued and not sent, or with the carrier."""
    if ret is None:
        return
    if ret.status == "in_transit" and ret.shipped_at is not None:
        turn.say(
            response="utter_return_in_transit",
            order_id=ret.order_id,
            return_id=ret.id,
            shipped_on=fmt.day(turn.domain, ret.shipped_at),
            refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
        )
    else:
        turn.say(
            response="utter_return_requested",
            order_id=ret.order_id,
            return_id=ret.id,
            started_on=fmt.day(turn.domain, ret.created_at),
            label_url=ret.label_url,
            refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
        )


def say_arrived_return(turn: Turn, order: Order, payments: PaymentRecord, returns: list[Return]) -> None:
    """A return the warehouse received: when it arrived, and where the refund it started is."""
    ret = next(r for r in reversed(returns) if r.received_at is not None)
    assert ret.received_at is not None  # an arrived return carries the day it arrived, which the message names
    turn.say(response="utter_return_received", order_id=order.id, received_on=fmt.day(turn.domain, ret.received_at))
    refund = next((r for r in payments.refunds if r.id == ret.refund_id), None)
    if refund is None:
        turn.say(response="utter_return_received_nothing_to_refund", order_id=order.id)
    else:
        say_refund(turn, refund, order.total, date.today())


async def execute_start_return(turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Open the return the shopper said yes to, once, and give the label and what happens next."""
    order_id = operation["order_id"]
    try:
        ret = await turn.call(
            turn.clients.orders.start_return,
            order_id,
            items=operation.get("items") or None,
            reason="requested by customer via chat",
            idempotency_key=turn.key("return", operation),
        )
    except Conflict:
        order = await turn.owned_order(order_id)
        on_its_way = open_return(await returns_of(turn, order)) if order else None
        if on_its_way is not None:
            say_return(turn, on_its_way)
        else:
            turn.say(response="utter_return_refused_no_longer", order_id=order_id)
        return []
    turn.say(
        response="utter_return_started",
        return_id=ret.id,
        order_id=ret.order_id,
        label_url=ret.label_url,
        amount=fmt.money(Decimal(operation["amount"]), operation["currency"]),
        refund_issue_days=REFUND_ISSUE_BUSINESS_DAYS,
        bank_time=bank_time(turn, operation["method"]),
    )
    return [SlotSet("order_id", ret.order_id)]
