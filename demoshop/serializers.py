"""Rows to the JSON shapes of the v1 contract."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from demoshop import models
from demoshop.money import to_str


def iso(value: Optional[datetime | date]) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def customer(c: models.Customer) -> dict:
    return {
        "id": c.id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "address": {
            "line1": c.address_line1,
            "line2": c.address_line2,
            "city": c.city,
            "postcode": c.postcode,
            "country": c.country,
        },
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def order(o: models.Order) -> dict:
    shipment = None
    if o.shipment is not None:
        s = o.shipment
        shipment = {
            "carrier": s.carrier,
            "tracking_number": s.tracking_number,
            "tracking_url": s.tracking_url,
            "shipped_at": iso(s.shipped_at),
            "estimated_delivery": iso(s.estimated_delivery),
            "delivered_at": iso(s.delivered_at),
        }
    return {
        "id": o.id,
        "customer_id": o.customer_id,
        "status": o.status,
        "currency": o.currency,
        "items": [
            {
                "sku": i.sku,
                "name": i.name,
                "quantity": i.quantity,
                "unit_price": to_str(i.unit_price_cents),
                "total": to_str(i.unit_price_cents * i.quantity),
            }
            for i in o.items
        ],
        "subtotal": to_str(o.subtotal_cents),
        "shipping_cost": to_str(o.shipping_cents),
        "total": to_str(o.total_cents),
        "shipping_address": {
            "name": o.ship_name,
            "line1": o.ship_line1,
            "line2": o.ship_line2,
            "city": o.ship_city,
            "postcode": o.ship_postcode,
            "country": o.ship_country,
        },
        "shipment": shipment,
        "placed_at": iso(o.placed_at),
        "updated_at": iso(o.updated_at),
        "cancelled_at": iso(o.cancelled_at),
    }


def charge(c: models.Charge) -> dict:
    return {
        "id": c.id,
        "order_id": c.order_id,
        "amount": to_str(c.amount_cents),
        "currency": c.currency,
        "method": c.method,
        "method_detail": c.method_detail,
        "status": c.status,
        "failure_reason": c.failure_reason,
        "created_at": iso(c.created_at),
    }


def refund(r: models.Refund) -> dict:
    return {
        "id": r.id,
        "order_id": r.order_id,
        "charge_id": r.charge_id,
        "amount": to_str(r.amount_cents),
        "currency": r.currency,
        "method": r.method,
        "status": r.status,
        "reason": r.reason,
        "failure_reason": r.failure_reason,
        "created_at": iso(r.created_at),
        "issued_at": iso(r.issued_at),
    }


def ticket(t: models.Ticket, with_messages: bool = True) -> dict:
    body = {
        "id": t.id,
        "queue": t.queue,
        "priority": t.priority,
        "status": t.status,
        "subject": t.subject,
        "summary": t.summary,
        "transcript": t.transcript,
        "metadata": t.meta,
        "customer_id": t.customer_id,
        "conversation_id": t.conversation_id,
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
    }
    if with_messages:
        body["messages"] = [ticket_message(m) for m in t.messages]
    return body


def ticket_message(m: models.TicketMessage) -> dict:
    return {"id": m.id, "ticket_id": m.ticket_id, "author": m.author, "body": m.body, "created_at": iso(m.created_at)}
