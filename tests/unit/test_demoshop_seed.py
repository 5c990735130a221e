"""The seed data: deterministic, and every case the assistant must handle is in it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import select

from demoshop.db import Database
from demoshop.models import Charge, Customer, Order, Refund, Return
from demoshop.seed import FIRST_ORDER_ID, N_ORDERS, RETURN_SHOWCASE, SHOWCASE, seed_if_empty

NOW = datetime(2026, 3, 14, 12, 0)


def seeded(seed: int = 7) -> Database:
    db = Database("sqlite://")
    db.create_schema()
    with db.write() as s:
        assert seed_if_empty(s, seed, NOW) is True
    return db


@pytest.fixture(scope="module")
def db():
    return seeded()


def fingerprint(db: Database):
    with db.read() as s:
        orders = [
            (o.id, o.customer_id, o.status, o.total_cents, o.placed_at)
            for o in s.execute(select(Order).order_by(Order.id)).scalars()
        ]
        charges = [
            (c.id, c.order_id, c.status, c.amount_cents)
            for c in s.execute(select(Charge).order_by(Charge.id)).scalars()
        ]
        refunds = [
            (r.id, r.order_id, r.status, r.amount_cents)
            for r in s.execute(select(Refund).order_by(Refund.id)).scalars()
        ]
        customers = [(c.id, c.email, c.phone) for c in s.execute(select(Customer).order_by(Customer.id)).scalars()]
        returns = [
            (r.id, r.order_id, r.status, r.refund_id, [(i.sku, i.quantity) for i in r.items])
            for r in s.execute(select(Return).order_by(Return.id)).scalars()
        ]
    return orders, charges, refunds, customers, returns


def test_the_same_seed_gives_the_same_shop(db):
    assert fingerprint(db) == fingerprint(seeded())
    assert fingerprint(db) != fingerprint(seeded(8))


def test_a_populated_database_is_left_alone(db):
    with db.write() as s:
        assert seed_if_empty(s, 7, NOW) is False
        assert len(s.execute(select(Order)).scalars().all()) == N_ORDERS + len(RETURN_SHOWCASE)


def test_sizes_ids_and_statuses(db):
    with db.read() as s:
        customers = s.execute(select(Customer)).scalars().all()
        orders = s.execute(select(Order)).scalars().all()
        assert len(customers) >= 50 and len({c.email for c in customers}) == len(customers)
        assert len(orders) >= 200
        assert all(len(o.id) == 5 and o.id.isdigit() for o in orders)
        assert set(Counter(o.status for o in orders)) == {
            "pending",
            "paid",
            "shipped",
            "delivered",
            "cancelled",
            "returned",
        }
        for o in orders:
            assert o.items and o.total_cents == sum(i.quantity * i.unit_price_cents for i in o.items) + o.shipping_cents
            assert o.currency == ("GBP" if o.ship_country == "GB" else "EUR")
            if o.status in ("shipped", "delivered", "returned"):
                assert o.shipment and o.shipment.tracking_number and o.shipment.carrier
            else:
                assert o.shipment is None
            if o.status == "shipped":
                assert o.shipment.estimated_delivery > NOW.date()
            if o.status in ("delivered", "returned"):
                assert o.shipment.delivered_at <= NOW


def test_every_payment_and_refund_story_is_present(db):
    with db.read() as s:
        orders = s.execute(select(Order)).scalars().all()
        refund_states = Counter(r.status for o in orders for r in o.refunds)
        assert set(refund_states) == {"pending", "issued", "failed"}
        partial = [
            o
            for o in orders
            for r in o.refunds
            if r.status == "issued"
            and r.amount_cents < sum(c.amount_cents for c in o.charges if c.status == "succeeded")
        ]
        assert len(partial) >= 2
        failed_payment = [o for o in orders if o.status == "pending" and any(c.status == "failed" for c in o.charges)]
        assert failed_payment
        double = [o for o in orders if len([c for c in o.charges if c.status == "succeeded"]) == 2]
        assert double and all(len({c.amount_cents for c in o.charges if c.status == "succeeded"}) == 1 for o in double)
        for o in orders:
            paid = sum(c.amount_cents for c in o.charges if c.status == "succeeded")
            assert sum(r.amount_cents for r in o.refunds if r.status != "failed") <= paid


def test_the_showcase_stories_hold(db):
    with db.read() as s:
        for number, (customer_id, story) in enumerate(SHOWCASE, start=10001):
            order = s.get(Order, str(number))
            assert (order.customer_id, order.status) == (customer_id, story.status)
            if story.refund in ("issued", "pending", "failed"):
                assert [r.status for r in order.refunds] == [story.refund]
            if story.payment == "double":
                assert len([c for c in order.charges if c.status == "succeeded"]) == 2
            if story.payment == "failed":
                assert [c.status for c in order.charges] == ["failed"]


def test_every_return_story_is_present(db):
    with db.read() as s:
        for number, (customer_id, story) in enumerate(RETURN_SHOWCASE, start=FIRST_ORDER_ID + N_ORDERS):
            order = s.get(Order, str(number))
            assert (order.customer_id, order.status) == (customer_id, "delivered")
            assert [r.status for r in order.returns] == [story.return_stage] and not order.refunds
            assert {(i.sku, i.quantity) for i in order.returns[0].items} == {(i.sku, i.quantity) for i in order.items}
        orders = s.execute(select(Order)).scalars().all()
        for order in orders:
            if order.status == "returned":  # the return arrived and started the order's refund
                assert [r.status for r in order.returns] in (["received"], ["refunded"])
                assert order.returns[0].refund is order.refunds[0]
                assert order.shipment.delivered_at <= order.returns[0].received_at <= NOW
        statuses = Counter(r.status for o in orders for r in o.returns)
        assert set(statuses) == {"requested", "in_transit", "received", "refunded"}
        received = s.get(Order, "10004").returns[0]  # the showcase's returned order with a pending refund
        assert (received.status, received.refund.status) == ("received", "pending")
