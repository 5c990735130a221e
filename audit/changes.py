"""What each confirmed operation changes, for its audit record: the fields before (as the backend holds them
just before the change) and after (from the backend's answer to the change).

An operation without an entry here (a new executor) is still recorded: `before` is what was proposed to the
shopper (the pending operation) and `after` the backend's answer as it came.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from actions.backends.models import CancelResult, Customer, Order, Refund
from actions.base import Turn
from contract.v1.wire import Record

Fields = dict[str, Any]
# Keys of a pending operation that are bookkeeping, not part of what was proposed (actions.orders.propose).
BOOKKEEPING = ("op", "nonce", "asked_at")


@dataclass(frozen=True)
class ChangeFields:
    """How to read an operation's fields before the change, and which fields of the answer it changed."""

    before: Callable[[Turn, dict[str, Any]], Awaitable[Fields | None]]
    after: Callable[[dict[str, Any], Any], Fields]


async def proposed(_turn: Turn, operation: dict[str, Any]) -> Fields:
    """What the shopper said yes to (the pending operation, without its bookkeeping)."""
    return {"proposed": {key: value for key, value in operation.items() if key not in BOOKKEEPING}}


def as_answered(_operation: dict[str, Any], result: Any) -> Fields:
    """The backend's answer to the change, as it came."""
    return {"result": result.to_wire() if isinstance(result, Record) else result}


async def order_status(turn: Turn, operation: dict[str, Any]) -> Fields:
    """Before a cancellation: the order's status as the orders system holds it."""
    order = await turn.call(turn.clients.orders.get_order, operation["order_id"])
    return {"order_id": order.id, "status": order.status}


def cancelled(_operation: dict[str, Any], result: CancelResult) -> Fields:
    """After a cancellation: the new status and the refunds it started."""
    return {
        "order_id": result.order.id,
        "status": result.order.status,
        "refunds": [
            {"refund_id": r.id, "amount": str(r.amount), "currency": r.currency, "status": r.status}
            for r in result.refunds
        ],
    }


async def shipping_address(turn: Turn, operation: dict[str, Any]) -> Fields:
    """Before a change of address: where the order was going (an address; the audit store may hold it)."""
    order = await turn.call(turn.clients.orders.get_order, operation["order_id"])
    return {"order_id": order.id, "shipping_address": order.shipping_address.to_json()}


def readdressed(_operation: dict[str, Any], result: Order) -> Fields:
    """After a change of address: where the order goes now."""
    return {"order_id": result.id, "shipping_address": result.shipping_address.to_json()}


async def refunded_so_far(turn: Turn, operation: dict[str, Any]) -> Fields:
    """Before a refund: how much of the order the payment system had refunded."""
    payments = await turn.call(turn.clients.payments.payments_for_order, operation["order_id"])
    return {"order_id": payments.order_id, "refunded": str(payments.refunded), "currency": payments.currency}


def refund_created(_operation: dict[str, Any], result: Refund) -> Fields:
    """After a refund: the refund the payment system created."""
    return {
        "order_id": result.order_id,
        "refund_id": result.id,
        "amount": str(result.amount),
        "currency": result.currency,
        "status": result.status,
    }


async def contact_detail(turn: Turn, operation: dict[str, Any]) -> Fields:
    """Before a contact change: the email address or phone number the CRM held."""
    customer = await turn.call(turn.clients.crm.get_customer, turn.customer_id)
    return {operation["field"]: getattr(customer, operation["field"])}


def contact_written(operation: dict[str, Any], result: Customer) -> Fields:
    """After a contact change: the value the CRM holds now."""
    return {operation["field"]: getattr(result, operation["field"])}


FIELDS_BY_OPERATION: dict[str, ChangeFields] = {
    "cancel_order": ChangeFields(order_status, cancelled),
    "change_address": ChangeFields(shipping_address, readdressed),
    "refund": ChangeFields(refunded_so_far, refund_created),
    "update_contact": ChangeFields(contact_detail, contact_written),
}
ANY_OPERATION = ChangeFields(proposed, as_answered)


def fields_of(op: str) -> ChangeFields:
    """How to describe operation `op`: its own entry, or what was proposed and what was answered."""
    return FIELDS_BY_OPERATION.get(op, ANY_OPERATION)
