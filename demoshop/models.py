"""The demo shop's tables. Money is stored in minor units (cents) so no sum ever rounds."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "returned")
CHARGE_STATUSES = ("succeeded", "failed", "pending")
REFUND_STATUSES = ("pending", "issued", "failed")
# A return's stages as stored; it reads "refunded" once the refund its arrival started is issued (Return.status).
RETURN_STAGES = ("requested", "in_transit", "received")
RETURN_STATUSES = (*RETURN_STAGES, "refunded")
RETURN_LABEL_URL = "https://returns.larkspurhome.example/labels/{return_id}.pdf"
TICKET_QUEUES = ("orders", "refunds", "payments", "account", "general")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")


class Customer(Base):
    """A shopper known to the CRM."""

    __tablename__ = "customers"
    id = Column(String(16), primary_key=True)
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    email = Column(String(200), nullable=False, unique=True, index=True)
    phone = Column(String(40), nullable=False)
    address_line1 = Column(String(200), nullable=False)
    address_line2 = Column(String(200), nullable=True)
    city = Column(String(100), nullable=False)
    postcode = Column(String(20), nullable=False)
    country = Column(String(2), nullable=False)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)

    orders = relationship("Order", back_populates="customer")


class Verification(Base):
    """A one-time code sent to a customer to prove who they are in a chat."""

    __tablename__ = "verifications"
    id = Column(String(24), primary_key=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False, index=True)
    channel = Column(String(10), nullable=False)
    code = Column(String(6), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    status = Column(String(10), nullable=False, default="pending")  # pending|verified|locked
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)


class OutboxMessage(Base):
    """An email or SMS the shop "sent": the demo stand-in for a mail server, readable by tests."""

    __tablename__ = "outbox"
    id = Column(Integer, primary_key=True, autoincrement=True)
    customer_id = Column(String(16), nullable=False, index=True)
    channel = Column(String(10), nullable=False)
    destination = Column(String(200), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)


class Order(Base):
    """An order with its delivery address and money totals."""

    __tablename__ = "orders"
    id = Column(String(12), primary_key=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(String(12), nullable=False, index=True)
    currency = Column(String(3), nullable=False)
    subtotal_cents = Column(Integer, nullable=False)
    shipping_cents = Column(Integer, nullable=False)
    total_cents = Column(Integer, nullable=False)
    ship_name = Column(String(160), nullable=False)
    ship_line1 = Column(String(200), nullable=False)
    ship_line2 = Column(String(200), nullable=True)
    ship_city = Column(String(100), nullable=False)
    ship_postcode = Column(String(20), nullable=False)
    ship_country = Column(String(2), nullable=False)
    placed_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    cancelled_at = Column(DateTime, nullable=True)
    cancel_reason = Column(String(200), nullable=True)

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")
    shipment = relationship("Shipment", back_populates="order", uselist=False)
    charges = relationship("Charge", back_populates="order", order_by="Charge.created_at")
    refunds = relationship("Refund", back_populates="order", order_by="Refund.created_at")
    returns = relationship("Return", back_populates="order", order_by="Return.created_at")


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(12), ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)

    order = relationship("Order", back_populates="items")


class Shipment(Base):
    """The parcel of a shipped or delivered order."""

    __tablename__ = "shipments"
    order_id = Column(String(12), ForeignKey("orders.id"), primary_key=True)
    carrier = Column(String(20), nullable=False)
    tracking_number = Column(String(40), nullable=False)
    tracking_url = Column(String(300), nullable=False)
    shipped_at = Column(DateTime, nullable=False)
    estimated_delivery = Column(Date, nullable=False)
    delivered_at = Column(DateTime, nullable=True)

    order = relationship("Order", back_populates="shipment")


class Charge(Base):
    """A payment attempt against an order (succeeded, failed or pending)."""

    __tablename__ = "charges"
    id = Column(String(24), primary_key=True)
    order_id = Column(String(12), ForeignKey("orders.id"), nullable=False, index=True)
    amount_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False)
    method = Column(String(20), nullable=False)
    method_detail = Column(String(60), nullable=True)
    status = Column(String(12), nullable=False)
    failure_reason = Column(String(200), nullable=True)
    created_at = Column(DateTime, nullable=False)

    order = relationship("Order", back_populates="charges")


class Refund(Base):
    """Money going back to the shopper, in full or in part, against one charge."""

    __tablename__ = "refunds"
    id = Column(String(24), primary_key=True)
    order_id = Column(String(12), ForeignKey("orders.id"), nullable=False, index=True)
    charge_id = Column(String(24), ForeignKey("charges.id"), nullable=False)
    amount_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False)
    method = Column(String(20), nullable=False)
    status = Column(String(12), nullable=False)
    reason = Column(String(200), nullable=False)
    failure_reason = Column(String(200), nullable=True)
    created_at = Column(DateTime, nullable=False)
    issued_at = Column(DateTime, nullable=True)

    order = relationship("Order", back_populates="refunds")


class Return(Base):
    """Items a shopper sends back: label issued (requested), with the carrier (in transit), at the warehouse
    (received, which starts the refund of the items), and refunded once that refund is issued."""

    __tablename__ = "returns"
    id = Column(String(24), primary_key=True)
    order_id = Column(String(12), ForeignKey("orders.id"), nullable=False, index=True)
    stage = Column(String(12), nullable=False)
    reason = Column(String(200), nullable=False)
    label_url = Column(String(300), nullable=False)
    refund_id = Column(String(24), ForeignKey("refunds.id"), nullable=True)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    shipped_at = Column(DateTime, nullable=True)
    received_at = Column(DateTime, nullable=True)

    order = relationship("Order", back_populates="returns")
    items = relationship("ReturnItem", back_populates="return_", order_by="ReturnItem.id")
    refund = relationship("Refund")

    @property
    def status(self) -> str:
        """The stage, or "refunded" once the refund the return started has been issued."""
        if self.stage == "received" and self.refund is not None and self.refund.status == "issued":
            return "refunded"
        return self.stage


class ReturnItem(Base):
    """One line of a return: how many of an order line go back."""

    __tablename__ = "return_items"
    id = Column(Integer, primary_key=True, autoincrement=True)
    return_id = Column(String(24), ForeignKey("returns.id"), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)

    return_ = relationship("Return", back_populates="items")


class Ticket(Base):
    """A helpdesk ticket, usually a handoff from the assistant to a human agent."""

    __tablename__ = "tickets"
    id = Column(Integer, primary_key=True, autoincrement=True)
    queue = Column(String(20), nullable=False, index=True)
    priority = Column(String(10), nullable=False)
    status = Column(String(12), nullable=False, default="open")
    subject = Column(String(200), nullable=False)
    summary = Column(Text, nullable=False)
    transcript = Column(JSON, nullable=False)
    meta = Column("metadata", JSON, nullable=False)
    customer_id = Column(String(16), nullable=True, index=True)
    conversation_id = Column(String(120), nullable=True, index=True)
    correlation_id = Column(String(128), nullable=True)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    erased_at = Column(DateTime, nullable=True)  # when its texts were erased (a customer's right to erasure)

    messages = relationship("TicketMessage", back_populates="ticket", order_by="TicketMessage.id")


class TicketMessage(Base):
    """A message on a ticket, from the agent, the customer or the assistant."""

    __tablename__ = "ticket_messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=False, index=True)
    author = Column(String(20), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)

    ticket = relationship("Ticket", back_populates="messages")


class IdempotencyRecord(Base):
    """The stored answer to a mutation, so that a retried request with the same key acts once."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("key", "scope", name="uq_idempotency_key_scope"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    key = Column(String(200), nullable=False)
    scope = Column(String(200), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer, nullable=False)
    response = Column(JSON, nullable=False)
    created_at = Column(DateTime, nullable=False)
