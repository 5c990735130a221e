"""Return records: items a shopper sends back, from the label to the refund their arrival starts."""

from __future__ import annotations

from pydantic import StrictInt

from contract.v1.wire import Record, UtcDateTime


class ReturnItem(Record):
    """One line of a return: how many of an order's line go back."""

    sku: str
    name: str
    quantity: StrictInt


class Return(Record):
    """A return: `requested` (label issued), `in_transit`, `received` (its refund started), `refunded`."""

    id: str
    order_id: str
    status: str
    reason: str
    items: list[ReturnItem]
    label_url: str
    refund_id: str | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    shipped_at: UtcDateTime | None = None
    received_at: UtcDateTime | None = None


class ReturnList(Record):
    """The returns of one order, oldest first."""

    returns: list[Return]
