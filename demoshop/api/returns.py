"""Returns: a delivered order's items sent back within the return window, and the refund their arrival starts.

A shopper's return is `requested` (the label is issued); the carrier's first scan makes it `in_transit`
(`POST /v1/returns/{id}/ship`); the warehouse receiving it (`POST /v1/returns/{id}/receive`) makes it
`received` and starts the refund of its items; it reads `refunded` once that refund is issued. The two
transitions are the carrier's and the warehouse's, not the shopper's: the assistant never calls them.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, conint, conlist, constr
from sqlalchemy import select
from sqlalchemy.orm import Session

from demoshop import serializers
from demoshop.api.orders import EmptyBody
from demoshop.app import database, mutation, parse_body
from demoshop.errors import ApiError, conflict, not_found
from demoshop.models import RETURN_LABEL_URL, Order, Refund, Return, ReturnItem

bp = Blueprint("returns", __name__)

# Days from delivery within which items may be sent back: the help article's window (data/knowledge/returns.md),
# the same figure as the assistant's policy (tests/unit/test_shop_policy.py holds the two together).
RETURN_WINDOW_DAYS = 30


class ReturnLine(BaseModel):
    """How many of one order line go back."""

    sku: constr(strip_whitespace=True, min_length=1, max_length=32)
    quantity: conint(ge=1, le=1000)

    class Config:
        extra = "forbid"


class ReturnRequest(BaseModel):
    """A new return; without `items`, every item of the order not already in a return goes back."""

    order_id: constr(strip_whitespace=True, min_length=1, max_length=12)
    items: conlist(ReturnLine, min_items=1) | None = None
    reason: constr(strip_whitespace=True, min_length=1, max_length=200)

    class Config:
        extra = "forbid"


@bp.post("/v1/returns")
def create_return():
    body = parse_body(ReturnRequest)

    def act(s: Session):
        order = s.execute(select(Order).where(Order.id == body.order_id).with_for_update()).scalar_one_or_none()
        if order is None:
            raise not_found("order", body.order_id)
        _check_returnable(order, datetime.utcnow())
        lines = _lines_to_return(order, body.items)
        now = datetime.utcnow()
        return_id = "rt_" + secrets.token_hex(8)
        names = {i.sku: i.name for i in order.items}
        created = Return(
            id=return_id,
            order_id=order.id,
            stage="requested",
            reason=body.reason,
            label_url=RETURN_LABEL_URL.format(return_id=return_id),
            created_at=now,
            updated_at=now,
            items=[ReturnItem(sku=sku, name=names[sku], quantity=qty) for sku, qty in lines.items()],
        )
        s.add(created)
        s.flush()
        return 201, serializers.return_(created)

    return mutation(body, act)


@bp.get("/v1/returns/<return_id>")
def get_return(return_id: str):
    with database().read() as s:
        found = s.get(Return, return_id)
        if found is None:
            raise not_found("return", return_id)
        return jsonify(serializers.return_(found))


@bp.get("/v1/returns")
def returns_of_order():
    order_id = request.args.get("order_id")
    if not order_id:
        raise ApiError(400, "missing_filter", "Give order_id= to list an order's returns.")
    with database().read() as s:
        order = s.get(Order, order_id)
        if order is None:
            raise not_found("order", order_id)
        return jsonify(serializers.return_list(order.returns))


@bp.post("/v1/returns/<return_id>/ship")
def mark_in_transit(return_id: str):
    """The carrier's first scan of the parcel (demo and admin use): a requested return is now in transit."""
    body = parse_body(EmptyBody)

    def act(s: Session):
        found = _locked_return(s, return_id)
        if found.stage != "requested":
            raise conflict("return_not_shippable", f"Return {found.id} is {found.status}; only a requested one ships.")
        found.stage, found.shipped_at = "in_transit", datetime.utcnow()
        found.updated_at = found.shipped_at
        s.flush()
        return 200, serializers.return_(found)

    return mutation(body, act)


@bp.post("/v1/returns/<return_id>/receive")
def receive(return_id: str):
    """The warehouse receiving the parcel (demo and admin use): the return is received and its refund starts.

    The refund is the returned items' value; a return that completes the order's return refunds everything
    still refundable (shipping included) and marks the order returned.
    """
    body = parse_body(EmptyBody)

    def act(s: Session):
        found = _locked_return(s, return_id)
        if found.stage == "received":
            raise conflict("return_already_received", f"Return {found.id} has already been received.")
        order = s.execute(select(Order).where(Order.id == found.order_id).with_for_update()).scalar_one()
        now = datetime.utcnow()
        found.stage, found.received_at, found.updated_at = "received", now, now
        s.flush()
        whole_order = _returned_quantities(order, stages=("received",)) == _ordered_quantities(order)
        value = sum(_unit_price(order, i.sku) * i.quantity for i in found.items)
        refund = _start_refund(s, order, None if whole_order else value, f"return {found.id} received", now)
        found.refund = refund
        if whole_order:
            order.status, order.updated_at = "returned", now
        s.flush()
        return 200, serializers.return_(found)

    return mutation(body, act)


def _check_returnable(order: Order, now: datetime) -> None:
    """Refuse orders that are not delivered, or whose return window has passed."""
    if order.status == "returned":
        raise conflict("order_already_returned", f"Order {order.id} has already been returned.")
    delivered = order.shipment.delivered_at if order.shipment else None
    if order.status != "delivered" or delivered is None:
        raise conflict(
            "order_not_delivered", f"Order {order.id} is {order.status}; only delivered orders can be returned."
        )
    if (now.date() - delivered.date()).days > RETURN_WINDOW_DAYS:
        raise conflict(
            "return_window_passed",
            f"Order {order.id} was delivered on {delivered.date().isoformat()}; returns are accepted within "
            f"{RETURN_WINDOW_DAYS} days of delivery.",
        )


def _lines_to_return(order: Order, wanted: list[ReturnLine] | None) -> dict[str, int]:
    """The quantity per SKU the new return takes: what was asked for, or everything not yet in a return."""
    ordered, taken = _ordered_quantities(order), _returned_quantities(order)
    left = {sku: qty - taken.get(sku, 0) for sku, qty in ordered.items()}
    if wanted is None:
        lines = {sku: qty for sku, qty in left.items() if qty > 0}
        if not lines:
            raise conflict("nothing_to_return", f"Every item of order {order.id} is already in a return.")
        return lines
    lines: dict[str, int] = {}
    for line in wanted:
        if line.sku not in ordered:
            raise ApiError(422, "unknown_item", f"Order {order.id} has no item {line.sku}.")
        lines[line.sku] = lines.get(line.sku, 0) + line.quantity
    for sku, qty in lines.items():
        if qty > left[sku]:
            raise conflict(
                "quantity_exceeds_returnable",
                f"At most {left[sku]} of {sku} from order {order.id} can still be returned.",
            )
    return lines


def _ordered_quantities(order: Order) -> dict[str, int]:
    quantities: dict[str, int] = {}
    for item in order.items:
        quantities[item.sku] = quantities.get(item.sku, 0) + item.quantity
    return quantities


def _returned_quantities(order: Order, stages: tuple[str, ...] = ("requested", "in_transit", "received")) -> dict:
    quantities: dict[str, int] = {}
    for ret in order.returns:
        if ret.stage in stages:
            for item in ret.items:
                quantities[item.sku] = quantities.get(item.sku, 0) + item.quantity
    return quantities


def _unit_price(order: Order, sku: str) -> int:
    return next(i.unit_price_cents for i in order.items if i.sku == sku)


def _start_refund(s: Session, order: Order, cents: int | None, reason: str, now: datetime) -> Refund | None:
    """A pending refund of `cents` (None: everything still refundable) against the first charge with room."""
    for charge in order.charges:
        if charge.status != "succeeded":
            continue
        committed = sum(r.amount_cents for r in order.refunds if r.charge_id == charge.id and r.status != "failed")
        room = charge.amount_cents - committed
        amount = room if cents is None else min(cents, room)
        if amount > 0:
            refund = Refund(
                id="re_" + secrets.token_hex(8),
                order_id=order.id,
                charge_id=charge.id,
                amount_cents=amount,
                currency=charge.currency,
                method=charge.method,
                status="pending",
                reason=reason,
                created_at=now,
            )
            s.add(refund)
            order.refunds.append(refund)
            return refund
    return None


def _locked_return(s: Session, return_id: str) -> Return:
    found = s.execute(select(Return).where(Return.id == return_id).with_for_update()).scalar_one_or_none()
    if found is None:
        raise not_found("return", return_id)
    return found
