"""Payments: the charges and refunds of an order, and new refunds that never exceed what was paid."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, constr
from sqlalchemy import select

from demoshop import serializers
from demoshop.app import database, mutation, parse_body
from demoshop.errors import ApiError, conflict, not_found
from demoshop.models import Charge, Order, Refund
from demoshop.money import to_cents, to_str

bp = Blueprint("payments", __name__)


class RefundRequest(BaseModel):
    order_id: constr(strip_whitespace=True, min_length=1, max_length=12)
    amount: str | None = None  # omitted: everything still refundable
    reason: constr(strip_whitespace=True, min_length=1, max_length=200)

    class Config:
        extra = "forbid"


@bp.get("/v1/payments")
def payments_of_order():
    order_id = request.args.get("order_id")
    if not order_id:
        raise ApiError(400, "missing_filter", "Give order_id= to list an order's payments.")
    with database().read() as s:
        order = s.get(Order, order_id)
        if order is None:
            raise not_found("order", order_id)
        captured = sum(c.amount_cents for c in order.charges if c.status == "succeeded")
        refunded = sum(r.amount_cents for r in order.refunds if r.status == "issued")
        return jsonify(serializers.payment_record(order, captured_cents=captured, refunded_cents=refunded))


@bp.post("/v1/refunds")
def create_refund():
    body = parse_body(RefundRequest)
    wanted = None if body.amount is None else to_cents(body.amount)

    def act(s):
        order = s.execute(select(Order).where(Order.id == body.order_id).with_for_update()).scalar_one_or_none()
        if order is None:
            raise not_found("order", body.order_id)
        charges = [c for c in order.charges if c.status == "succeeded"]
        if not charges:
            raise conflict("nothing_to_refund", f"Order {order.id} has no successful payment to refund.")
        room = {c.id: c.amount_cents - _committed(order, c) for c in charges}
        refundable = sum(room.values())
        amount = refundable if wanted is None else wanted
        if refundable <= 0:
            raise conflict("already_refunded", f"Order {order.id} has already been refunded in full.")
        if amount > refundable:
            raise conflict(
                "amount_exceeds_refundable",
                f"At most {to_str(refundable)} {order.currency} of order {order.id} can still be refunded.",
            )
        now = datetime.utcnow()
        created = []
        for charge in charges:  # take the amount from the charges in payment order
            take = min(amount, room[charge.id])
            if take <= 0:
                continue
            refund = Refund(
                id="re_" + secrets.token_hex(8),
                order_id=order.id,
                charge_id=charge.id,
                amount_cents=take,
                currency=charge.currency,
                method=charge.method,
                status="pending",
                reason=body.reason,
                created_at=now,
            )
            s.add(refund)
            created.append(refund)
            amount -= take
            if amount == 0:
                break
        s.flush()
        first = serializers.refund(created[0])
        if len(created) > 1:
            first["amount"] = to_str(sum(r.amount_cents for r in created))
            first["parts"] = [serializers.refund(r) for r in created]
        return 201, first

    return mutation(body, act)


@bp.get("/v1/refunds/<refund_id>")
def get_refund(refund_id: str):
    with database().read() as s:
        refund = s.get(Refund, refund_id)
        if refund is None:
            raise not_found("refund", refund_id)
        return jsonify(serializers.refund(refund))


def _committed(order: Order, charge: Charge) -> int:
    """Money of a charge already on its way back (issued or pending refunds)."""
    return sum(r.amount_cents for r in order.refunds if r.charge_id == charge.id and r.status != "failed")
