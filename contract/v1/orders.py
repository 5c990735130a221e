"""Order records: an order with its items, totals, address and shipment; cancellations and invoices."""

from __future__ import annotations

from pydantic import StrictInt

from contract.v1.crm import Address
from contract.v1.payments import Refund
from contract.v1.wire import IsoDate, Money, Record, UtcDateTime


class OrderItem(Record):
    """One line of an order: `total` is `unit_price` times `quantity`."""

    sku: str
    name: str
    quantity: StrictInt
    unit_price: Money
    total: Money


class Shipment(Record):
    """The parcel of an order that has left the warehouse."""

    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: UtcDateTime
    estimated_delivery: IsoDate
    delivered_at: UtcDateTime | None = None


class Order(Record):
    """An order with its items, totals, address and shipment."""

    id: str
    customer_id: str
    status: str
    currency: str
    items: list[OrderItem]
    subtotal: Money
    shipping_cost: Money
    total: Money
    shipping_address: Address
    shipment: Shipment | None = None
    placed_at: UtcDateTime
    updated_at: UtcDateTime
    cancelled_at: UtcDateTime | None = None


class OrderPage(Record):
    """One page of a filtered order list, with the number of orders that match in all."""

    orders: list[Order]
    total: StrictInt
    limit: StrictInt
    offset: StrictInt


class CancelResult(Record):
    """A cancelled order and the refunds the cancellation started."""

    order: Order
    refunds: list[Refund] = []


class Invoice(Record):
    """An invoice the shop emailed (`sent_to` is masked)."""

    order_id: str
    invoice_number: str
    sent_to: str
