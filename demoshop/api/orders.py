"""Orders: look-up, filtered lists, cancellation and shipping-address changes before shipping."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, constr
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from demoshop import serializers
from demoshop.app import database, mutation, parse_body
from demoshop.errors import ApiError, conflict, not_found
from demoshop.models import ORDER_STATUSES, Order, OutboxMessage, Refund
from demoshop.validation import AddressIn

bp = Blueprint("orders", __name__)

CHANGEABLE = ("pending", "paid")  # the parcel has not left the warehouse
EAGER = (
    selectinload(Order.items),
    selectinload(Order.shipment),
)


class EmptyBody(BaseModel):
    """A mutation that takes no fields: an empty JSON object, or no body at all."""

    class Config:
        extra = "forbid"


class CancelRequest(BaseModel):
    reason: constr(strip_whitespace=True, max_length=200) | None = None

    class Config:
        extra = "forbid"


@bp.get("/v1/orders/<order_id>")
def get_order(order_id: str):
    with database().read() as s:
        order = s.execute(select(Order).options(*EAGER).where(Order.id == order_id)).scalar_one_or_none()
        if order is None:
            raise not_found("order", order_id)
        return jsonify(serializers.order(order))


@bp.get("/v1/orders")
def list_orders():
    args = request.args
    status = args.get("status")
    if status and status not in ORDER_STATUSES:
        raise ApiError(422, "invalid_status", f"status must be one of {', '.join(ORDER_STATUSES)}.")
    limit = _bounded_int(args.get("limit"), "limit", default=20, low=1, high=200)
    offset = _bounded_int(args.get("offset"), "offset", default=0, low=0, high=1_000_000)
    query = select(Order)
    if args.get("customer_id"):
        query = query.where(Order.customer_id == args["customer_id"])
    if status:
        query = query.where(Order.status == status)
    with database().read() as s:
        total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = (
            s.execute(query.options(*EAGER).order_by(Order.placed_at.desc(), Order.id).limit(limit).offset(offset))
            .scalars()
            .all()
        )
        return jsonify(serializers.order_page(rows, total=total, limit=limit, offset=offset))


@bp.post("/v1/orders/<order_id>/cancel")
def cancel_order(order_id: str):
    body = parse_body(CancelRequest)

    def act(s):
        order = _locked_order(s, order_id)
        if order.status not in CHANGEABLE:
            raise conflict(
                "order_not_cancellable",
                f"Order {order.id} is {order.status}; only pending or paid orders can be cancelled.",
            )
        now = datetime.utcnow()
        order.status, order.cancelled_at, order.updated_at = "cancelled", now, now
        order.cancel_reason = body.reason or "customer request"
        refunds = []
        for charge in order.charges:
            if charge.status != "succeeded":
                continue
            already = sum(r.amount_cents for r in order.refunds if r.charge_id == charge.id and r.status != "failed")
            if charge.amount_cents - already > 0:
                refund = Refund(
                    id="re_" + secrets.token_hex(8),
                    order_id=order.id,
                    charge_id=charge.id,
                    amount_cents=charge.amount_cents - already,
                    currency=charge.currency,
                    method=charge.method,
                    status="pending",
                    reason="order cancelled",
                    created_at=now,
                )
                s.add(refund)
                refunds.append(refund)
        s.flush()
        return 200, serializers.cancel_result(order, refunds)

    return mutation(body, act)


@bp.put("/v1/orders/<order_id>/shipping-address")
def change_shipping_address(order_id: str):
    address = parse_body(AddressIn)

    def act(s):
        order = _locked_order(s, order_id)
        if order.status not in CHANGEABLE:
            raise conflict(
                "address_not_changeable",
                f"Order {order.id} is {order.status}; the address can only change before it ships.",
            )
        if address.name:
            order.ship_name = address.name
        order.ship_line1, order.ship_line2 = address.line1, address.line2
        order.ship_city, order.ship_postcode, order.ship_country = address.city, address.postcode, address.country
        order.updated_at = datetime.utcnow()
        s.flush()
        return 200, serializers.order(order)

    return mutation(address, act)


@bp.post("/v1/orders/<order_id>/invoice")
def send_invoice(order_id: str):
    """Email the VAT invoice of a paid order to the customer (the demo shop writes it to the outbox)."""
    body = parse_body(EmptyBody)

    def act(s):
        order = _locked_order(s, order_id)
        if not any(c.status == "succeeded" for c in order.charges):
            raise conflict("no_invoice", f"Order {order.id} has not been paid, so there is no invoice yet.")
        customer = order.customer
        number = f"INV-{order.placed_at:%Y}-{order.id}"
        s.add(
            OutboxMessage(
                customer_id=customer.id,
                channel="email",
                destination=customer.email,
                subject=f"Your invoice {number}",
                body=f"Invoice {number} for order {order.id} (PDF attached).",
                created_at=datetime.utcnow(),
            )
        )
        name, _, domain = customer.email.partition("@")
        return 201, serializers.invoice(order.id, number, f"{name[:1]}***@{domain}")

    return mutation(body, act)


def _locked_order(s, order_id: str) -> Order:
    order = s.execute(select(Order).where(Order.id == order_id).with_for_update()).scalar_one_or_none()
    if order is None:
        raise not_found("order", order_id)
    return order


def _bounded_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_parameter", f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise ApiError(422, "invalid_parameter", f"{name} must be between {low} and {high}.")
    return value
