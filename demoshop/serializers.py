"""Rows to the JSON shapes of the v1 contract, through the contract's own records (`contract.v1`).

Each function builds the record from database rows and writes it with `Record.to_wire()`, so the shop
can only answer with what the contract defines, and the clients parse it with the same models.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from contract import v1
from contract.v1.wire import datetime_to_wire
from demoshop import models
from demoshop.money import to_str


def iso(value: datetime | date | None) -> str | None:
    """A time or a day as the contract writes it (for the shop's own extras, such as the outbox)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime_to_wire(value)
    return value.isoformat()


def customer(c: models.Customer) -> dict:
    """A customer with their postal address (which has no `name`)."""
    return _customer(c).to_wire()


def customer_list(found: Iterable[models.Customer]) -> dict:
    """The customers a look-up by email or phone found."""
    return v1.CustomerList(customers=[_customer(c) for c in found]).to_wire()


def verification(v: models.Verification, destination: str) -> dict:
    """A started verification; `destination` is already masked."""
    return v1.Verification(
        verification_id=v.id,
        customer_id=v.customer_id,
        channel=v.channel,
        destination=destination,
        expires_at=v.expires_at,
    ).to_wire()


def verification_result(v: models.Verification, *, status: str, verified: bool, attempts_left: int) -> dict:
    """What checking a code said about verification `v`."""
    return v1.VerificationResult(
        verification_id=v.id,
        customer_id=v.customer_id,
        status=status,
        verified=verified,
        attempts_left=attempts_left,
    ).to_wire()


def order(o: models.Order) -> dict:
    """An order with its items, totals, shipping address and shipment."""
    return _order(o).to_wire()


def order_page(rows: Iterable[models.Order], *, total: int, limit: int, offset: int) -> dict:
    """One page of an order list."""
    return v1.OrderPage(orders=[_order(o) for o in rows], total=total, limit=limit, offset=offset).to_wire()


def cancel_result(o: models.Order, refunds: Iterable[models.Refund]) -> dict:
    """A cancelled order and the refunds its cancellation started."""
    return v1.CancelResult(order=_order(o), refunds=[_refund(r) for r in refunds]).to_wire()


def invoice(order_id: str, invoice_number: str, sent_to: str) -> dict:
    """An emailed invoice; `sent_to` is already masked."""
    return v1.Invoice(order_id=order_id, invoice_number=invoice_number, sent_to=sent_to).to_wire()


def charge(c: models.Charge) -> dict:
    """One payment attempt."""
    return _charge(c).to_wire()


def refund(r: models.Refund) -> dict:
    """One refund."""
    return _refund(r).to_wire()


def payment_record(o: models.Order, *, captured_cents: int, refunded_cents: int) -> dict:
    """An order's money: its total, what was captured and refunded, and every charge and refund."""
    return v1.PaymentRecord(
        order_id=o.id,
        currency=o.currency,
        order_total=to_str(o.total_cents),
        captured=to_str(captured_cents),
        refunded=to_str(refunded_cents),
        charges=[_charge(c) for c in o.charges],
        refunds=[_refund(r) for r in o.refunds],
    ).to_wire()


def return_(r: models.Return) -> dict:
    """One return with its items, its label and the refund its arrival started."""
    return _return(r).to_wire()


def return_list(found: Iterable[models.Return]) -> dict:
    """The returns of an order."""
    return v1.ReturnList(returns=[_return(r) for r in found]).to_wire()


def ticket(t: models.Ticket, with_messages: bool = True) -> dict:
    """A ticket; `with_messages=False` leaves the `messages` key out (as ticket lists do)."""
    record = _ticket(t, with_messages)
    return record.to_wire() if with_messages else record.to_wire(exclude={"messages"})


def ticket_list(found: Iterable[models.Ticket]) -> dict:
    """Tickets without their messages."""
    tickets = [_ticket(t, with_messages=False) for t in found]
    return v1.TicketList(tickets=tickets).to_wire(exclude={"tickets": {"__all__": {"messages"}}})


def ticket_message(m: models.TicketMessage) -> dict:
    """One message of a ticket."""
    return _ticket_message(m).to_wire()


def _customer(c: models.Customer) -> v1.Customer:
    address = v1.Address(
        line1=c.address_line1, line2=c.address_line2, city=c.city, postcode=c.postcode, country=c.country
    )
    return v1.Customer(
        id=c.id,
        first_name=c.first_name,
        last_name=c.last_name,
        email=c.email,
        phone=c.phone,
        address=address,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _order(o: models.Order) -> v1.Order:
    s = o.shipment
    shipment = (
        None
        if s is None
        else v1.Shipment(
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            tracking_url=s.tracking_url,
            shipped_at=s.shipped_at,
            estimated_delivery=s.estimated_delivery,
            delivered_at=s.delivered_at,
        )
    )
    items = [
        v1.OrderItem(
            sku=i.sku,
            name=i.name,
            quantity=i.quantity,
            unit_price=to_str(i.unit_price_cents),
            total=to_str(i.unit_price_cents * i.quantity),
        )
        for i in o.items
    ]
    address = v1.Address(
        name=o.ship_name,
        line1=o.ship_line1,
        line2=o.ship_line2,
        city=o.ship_city,
        postcode=o.ship_postcode,
        country=o.ship_country,
    )
    return v1.Order(
        id=o.id,
        customer_id=o.customer_id,
        status=o.status,
        currency=o.currency,
        items=items,
        subtotal=to_str(o.subtotal_cents),
        shipping_cost=to_str(o.shipping_cents),
        total=to_str(o.total_cents),
        shipping_address=address,
        shipment=shipment,
        placed_at=o.placed_at,
        updated_at=o.updated_at,
        cancelled_at=o.cancelled_at,
    )


def _charge(c: models.Charge) -> v1.Charge:
    return v1.Charge(
        id=c.id,
        order_id=c.order_id,
        amount=to_str(c.amount_cents),
        currency=c.currency,
        method=c.method,
        method_detail=c.method_detail,
        status=c.status,
        failure_reason=c.failure_reason,
        created_at=c.created_at,
    )


def _refund(r: models.Refund) -> v1.Refund:
    return v1.Refund(
        id=r.id,
        order_id=r.order_id,
        charge_id=r.charge_id,
        amount=to_str(r.amount_cents),
        currency=r.currency,
        method=r.method,
        status=r.status,
        reason=r.reason,
        failure_reason=r.failure_reason,
        created_at=r.created_at,
        issued_at=r.issued_at,
    )


def _return(r: models.Return) -> v1.Return:
    return v1.Return(
        id=r.id,
        order_id=r.order_id,
        status=r.status,
        reason=r.reason,
        items=[v1.ReturnItem(sku=i.sku, name=i.name, quantity=i.quantity) for i in r.items],
        label_url=r.label_url,
        refund_id=r.refund_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        shipped_at=r.shipped_at,
        received_at=r.received_at,
    )


def _ticket(t: models.Ticket, with_messages: bool) -> v1.Ticket:
    return v1.Ticket(
        id=t.id,
        queue=t.queue,
        priority=t.priority,
        status=t.status,
        subject=t.subject,
        summary=t.summary,
        transcript=t.transcript,
        metadata=t.meta,
        customer_id=t.customer_id,
        conversation_id=t.conversation_id,
        correlation_id=t.correlation_id,
        created_at=t.created_at,
        updated_at=t.updated_at,
        erased_at=t.erased_at,
        messages=[_ticket_message(m) for m in t.messages] if with_messages else [],
    )


def _ticket_message(m: models.TicketMessage) -> v1.TicketMessage:
    return v1.TicketMessage(id=m.id, ticket_id=m.ticket_id, author=m.author, body=m.body, created_at=m.created_at)
