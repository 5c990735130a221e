"""The typed records the backend clients return: dataclasses with money as Decimal and dates as dates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional


def _dt(value: Optional[str]) -> Optional[datetime]:
    return None if value is None else datetime.fromisoformat(value.rstrip("Z"))


def _date(value: Optional[str]) -> Optional[date]:
    return None if value is None else date.fromisoformat(value)


@dataclass(frozen=True)
class Address:
    """A postal address (a customer's, or where an order goes)."""

    line1: str
    city: str
    postcode: str
    country: str
    line2: Optional[str] = None
    name: Optional[str] = None

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Address":
        return cls(d["line1"], d["city"], d["postcode"], d["country"], d.get("line2"), d.get("name"))

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def one_line(self) -> str:
        parts = [self.name, self.line1, self.line2, f"{self.postcode} {self.city}", self.country]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Customer:
    """A shopper as the CRM knows them."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    address: Address

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Customer":
        return cls(d["id"], d["first_name"], d["last_name"], d["email"], d["phone"], Address.from_json(d["address"]))


@dataclass(frozen=True)
class Verification:
    """A one-time code on its way to the customer."""

    verification_id: str
    customer_id: str
    channel: str
    destination: str
    expires_at: datetime

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Verification":
        return cls(d["verification_id"], d["customer_id"], d["channel"], d["destination"], _dt(d["expires_at"]))


@dataclass(frozen=True)
class VerificationResult:
    """What checking a code said: verified, invalid (attempts left), locked or expired."""

    status: str
    verified: bool
    attempts_left: int

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "VerificationResult":
        return cls(d["status"], bool(d["verified"]), int(d["attempts_left"]))


@dataclass(frozen=True)
class OrderItem:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "OrderItem":
        return cls(d["sku"], d["name"], int(d["quantity"]), Decimal(d["unit_price"]), Decimal(d["total"]))


@dataclass(frozen=True)
class Shipment:
    """The parcel of an order that has left the warehouse."""

    carrier: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime
    estimated_delivery: date
    delivered_at: Optional[datetime]

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Shipment":
        return cls(d["carrier"], d["tracking_number"], d["tracking_url"], _dt(d["shipped_at"]),
                   _date(d["estimated_delivery"]), _dt(d.get("delivered_at")))


@dataclass(frozen=True)
class Order:
    """An order with its items, totals, address and shipment."""

    id: str
    customer_id: str
    status: str
    currency: str
    items: List[OrderItem]
    subtotal: Decimal
    shipping_cost: Decimal
    total: Decimal
    shipping_address: Address
    shipment: Optional[Shipment]
    placed_at: datetime
    updated_at: datetime
    cancelled_at: Optional[datetime] = None

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Order":
        return cls(
            id=str(d["id"]),
            customer_id=d["customer_id"],
            status=d["status"],
            currency=d["currency"],
            items=[OrderItem.from_json(i) for i in d["items"]],
            subtotal=Decimal(d["subtotal"]),
            shipping_cost=Decimal(d["shipping_cost"]),
            total=Decimal(d["total"]),
            shipping_address=Address.from_json(d["shipping_address"]),
            shipment=Shipment.from_json(d["shipment"]) if d.get("shipment") else None,
            placed_at=_dt(d["placed_at"]),
            updated_at=_dt(d["updated_at"]),
            cancelled_at=_dt(d.get("cancelled_at")),
        )


@dataclass(frozen=True)
class Charge:
    """One payment attempt against an order."""

    id: str
    order_id: str
    amount: Decimal
    currency: str
    method: str
    method_detail: Optional[str]
    status: str
    failure_reason: Optional[str]
    created_at: datetime

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Charge":
        return cls(d["id"], str(d["order_id"]), Decimal(d["amount"]), d["currency"], d["method"],
                   d.get("method_detail"), d["status"], d.get("failure_reason"), _dt(d["created_at"]))


@dataclass(frozen=True)
class Refund:
    """Money going back to the shopper: pending, issued or failed."""

    id: str
    order_id: str
    charge_id: str
    amount: Decimal
    currency: str
    method: str
    status: str
    reason: str
    failure_reason: Optional[str]
    created_at: datetime
    issued_at: Optional[datetime]

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Refund":
        return cls(d["id"], str(d["order_id"]), d["charge_id"], Decimal(d["amount"]), d["currency"], d["method"],
                   d["status"], d["reason"], d.get("failure_reason"), _dt(d["created_at"]), _dt(d.get("issued_at")))


@dataclass(frozen=True)
class PaymentRecord:
    """Everything the payment system knows about one order's money."""

    order_id: str
    currency: str
    order_total: Decimal
    captured: Decimal
    refunded: Decimal
    charges: List[Charge]
    refunds: List[Refund]

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "PaymentRecord":
        return cls(str(d["order_id"]), d["currency"], Decimal(d["order_total"]), Decimal(d["captured"]),
                   Decimal(d["refunded"]), [Charge.from_json(c) for c in d["charges"]],
                   [Refund.from_json(r) for r in d["refunds"]])


@dataclass(frozen=True)
class CancelResult:
    """A cancelled order and the refunds the cancellation started."""

    order: Order
    refunds: List[Refund]

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "CancelResult":
        return cls(Order.from_json(d["order"]), [Refund.from_json(r) for r in d.get("refunds", [])])


@dataclass(frozen=True)
class Invoice:
    """An invoice the shop emailed."""

    order_id: str
    invoice_number: str
    sent_to: str

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Invoice":
        return cls(str(d["order_id"]), d["invoice_number"], d["sent_to"])


@dataclass(frozen=True)
class TranscriptLine:
    sender: str  # user | bot | agent
    text: str
    timestamp: Optional[str] = None


@dataclass(frozen=True)
class NewTicket:
    """What a handoff sends to the helpdesk: enough that the shopper never repeats themselves."""

    queue: str
    subject: str
    summary: str
    transcript: List[TranscriptLine] = field(default_factory=list)
    metadata: Dict[str, Any] = field(default_factory=dict)
    priority: str = "normal"
    customer_id: Optional[str] = None
    conversation_id: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        body = asdict(self)
        return {k: v for k, v in body.items() if v is not None}


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    author: str
    body: str
    created_at: datetime

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "TicketMessage":
        return cls(int(d["id"]), int(d["ticket_id"]), d["author"], d["body"], _dt(d["created_at"]))


@dataclass(frozen=True)
class Ticket:
    """A helpdesk ticket."""

    id: int
    queue: str
    priority: str
    status: str
    subject: str
    summary: str
    transcript: List[Dict[str, Any]]
    metadata: Dict[str, Any]
    customer_id: Optional[str]
    conversation_id: Optional[str]
    created_at: datetime
    messages: List[TicketMessage] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Ticket":
        return cls(int(d["id"]), d["queue"], d["priority"], d["status"], d["subject"], d["summary"],
                   d.get("transcript", []), d.get("metadata", {}), d.get("customer_id"), d.get("conversation_id"),
                   _dt(d["created_at"]), [TicketMessage.from_json(m) for m in d.get("messages", [])])
