"""Payment records: the charges and refunds of an order."""

from __future__ import annotations

from contract.v1.wire import Money, Record, UtcDateTime


class Charge(Record):
    """One payment attempt against an order."""

    id: str
    order_id: str
    amount: Money
    currency: str
    method: str
    method_detail: str | None = None
    status: str
    failure_reason: str | None = None
    created_at: UtcDateTime


class Refund(Record):
    """Money going back to the shopper: pending, issued or failed."""

    id: str
    order_id: str
    charge_id: str
    amount: Money
    currency: str
    method: str
    status: str
    reason: str
    failure_reason: str | None = None
    created_at: UtcDateTime
    issued_at: UtcDateTime | None = None


class PaymentRecord(Record):
    """Everything the payment system knows about one order's money."""

    order_id: str
    currency: str
    order_total: Money
    captured: Money
    refunded: Money
    charges: list[Charge]
    refunds: list[Refund]
