"""The demo shop's returns against the real service (SQLite and PostgreSQL): only delivered orders within the
return window, quantities never beyond what was ordered, the carrier's and the warehouse's steps, and the refund
that follows a received return (and only then)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.integration.test_demoshop_api import assert_error


def key() -> str:
    return uuid.uuid4().hex


def payments(shop, order_id: str) -> dict:
    return shop.get("/v1/payments", params={"order_id": order_id}).json()


def returnable_order(shop, predicate=lambda o: True) -> dict:
    """A delivered order delivered within the window, with no return yet, that fits `predicate`."""

    def fits(order: dict) -> bool:
        none_yet = shop.get("/v1/returns", params={"order_id": order["id"]}).json()["returns"] == []
        untouched = not payments(shop, order["id"])["refunds"]
        return none_yet and untouched and predicate(order)

    return shop.find_order("delivered", fits)


def test_a_return_of_a_delivered_order_gets_a_label_and_is_listed_with_its_order(shop):
    order = returnable_order(shop)
    response = shop.post("/v1/returns", json={"order_id": order["id"], "reason": "changed my mind"}, key=key())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "requested" and created["order_id"] == order["id"]
    assert created["id"] in created["label_url"] and created["label_url"].startswith("https://")
    assert {(i["sku"], i["quantity"]) for i in created["items"]} == {(i["sku"], i["quantity"]) for i in order["items"]}
    assert created["refund_id"] is None and created["received_at"] is None
    assert shop.get(f"/v1/returns/{created['id']}").json() == created
    assert shop.get("/v1/returns", params={"order_id": order["id"]}).json()["returns"] == [created]
    assert payments(shop, order["id"])["refunds"] == []  # a requested return refunds nothing yet


def test_returns_are_refused_before_delivery_after_the_window_and_for_unknown_orders(shop):
    for status in ("pending", "paid", "shipped", "cancelled"):
        order = shop.find_order(status)
        refused = shop.post("/v1/returns", json={"order_id": order["id"], "reason": "x"}, key=key())
        assert_error(refused, 409, "order_not_delivered")
    returned = shop.find_order("returned")
    assert_error(
        shop.post("/v1/returns", json={"order_id": returned["id"], "reason": "x"}), 409, "order_already_returned"
    )
    late = shop.get("/v1/orders/10011").json()  # delivered 45 days before seeding
    assert late["status"] == "delivered"
    assert_error(shop.post("/v1/returns", json={"order_id": "10011", "reason": "x"}), 409, "return_window_passed")
    assert_error(shop.post("/v1/returns", json={"order_id": "99999", "reason": "x"}), 404, "order_not_found")
    assert shop.get("/v1/returns", params={"order_id": "10011"}).json()["returns"] == []


def test_quantities_never_exceed_what_is_left_to_return(shop):
    order = returnable_order(shop, lambda o: len(o["items"]) >= 2)
    first, second = order["items"][0], order["items"][1]
    one = {"order_id": order["id"], "reason": "too small", "items": [{"sku": first["sku"], "quantity": 1}]}
    assert shop.post("/v1/returns", json=one, key=key()).status_code == 201
    again = shop.post("/v1/returns", json={**one, "items": [{"sku": first["sku"], "quantity": first["quantity"]}]})
    assert_error(again, 409, "quantity_exceeds_returnable")
    unknown = shop.post("/v1/returns", json={**one, "items": [{"sku": "LH-NOPE-000", "quantity": 1}]})
    assert_error(unknown, 422, "unknown_item")
    assert_error(shop.post("/v1/returns", json={**one, "items": []}), 422, "validation_failed")
    assert_error(
        shop.post("/v1/returns", json={**one, "items": [{"sku": first["sku"], "quantity": 0}]}),
        422,
        "validation_failed",
    )
    rest = shop.post("/v1/returns", json={"order_id": order["id"], "reason": "all of it"}, key=key()).json()
    left = {(i["sku"], i["quantity"]) for i in rest["items"]}
    assert (second["sku"], second["quantity"]) in left and all(
        sku != first["sku"] or qty == first["quantity"] - 1 for sku, qty in left
    )
    assert_error(shop.post("/v1/returns", json={"order_id": order["id"], "reason": "x"}), 409, "nothing_to_return")


def test_the_same_key_starts_one_return(shop):
    order = returnable_order(shop)
    body, k = {"order_id": order["id"], "reason": "changed my mind"}, key()
    first = shop.post("/v1/returns", json=body, key=k)
    second = shop.post("/v1/returns", json=body, key=k)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(shop.get("/v1/returns", params={"order_id": order["id"]}).json()["returns"]) == 1


def test_in_transit_then_received_starts_the_refund_and_then_the_order_is_returned(shop):
    order = returnable_order(shop)
    created = shop.post("/v1/returns", json={"order_id": order["id"], "reason": "colour"}, key=key()).json()
    shipped = shop.post(f"/v1/returns/{created['id']}/ship", json={}, key=key())
    assert shipped.status_code == 200 and shipped.json()["status"] == "in_transit" and shipped.json()["shipped_at"]
    assert_error(shop.post(f"/v1/returns/{created['id']}/ship", json={}), 409, "return_not_shippable")
    assert payments(shop, order["id"])["refunds"] == []

    received = shop.post(f"/v1/returns/{created['id']}/receive", json={}, key=key())
    assert received.status_code == 200, received.text
    got = received.json()
    assert got["status"] == "received" and got["received_at"] and got["refund_id"]
    refund = shop.get(f"/v1/refunds/{got['refund_id']}").json()
    assert refund["status"] == "pending" and refund["order_id"] == order["id"]
    record = payments(shop, order["id"])
    assert Decimal(refund["amount"]) == Decimal(record["captured"])  # the whole order came back
    assert shop.get(f"/v1/orders/{order['id']}").json()["status"] == "returned"
    assert_error(shop.post(f"/v1/returns/{created['id']}/receive", json={}), 409, "return_already_received")
    assert len(payments(shop, order["id"])["refunds"]) == 1


def test_a_partial_return_refunds_its_items_and_leaves_the_order_delivered(shop):
    order = returnable_order(shop, lambda o: len(o["items"]) >= 2)
    item = order["items"][0]
    body = {"order_id": order["id"], "reason": "x", "items": [{"sku": item["sku"], "quantity": 1}]}
    created = shop.post("/v1/returns", json=body, key=key()).json()
    got = shop.post(f"/v1/returns/{created['id']}/receive", json={}, key=key()).json()  # arrived without a scan
    refund = shop.get(f"/v1/refunds/{got['refund_id']}").json()
    assert Decimal(refund["amount"]) == Decimal(item["unit_price"])
    assert shop.get(f"/v1/orders/{order['id']}").json()["status"] == "delivered"


def test_the_seeded_returns_are_in_transit_requested_and_received(shop):
    [in_transit] = shop.get("/v1/returns", params={"order_id": "10241"}).json()["returns"]
    [requested] = shop.get("/v1/returns", params={"order_id": "10242"}).json()["returns"]
    [received] = shop.get("/v1/returns", params={"order_id": "10004"}).json()["returns"]
    assert (in_transit["status"], requested["status"], received["status"]) == ("in_transit", "requested", "received")
    assert shop.get(f"/v1/refunds/{received['refund_id']}").json()["status"] == "pending"
    [refunded] = shop.get("/v1/returns", params={"order_id": "10001"}).json()["returns"]
    assert refunded["status"] == "refunded"


def test_unknown_returns_and_missing_filters(shop):
    assert_error(shop.get("/v1/returns/rt_nope"), 404, "return_not_found")
    assert_error(shop.get("/v1/returns"), 400, "missing_filter")
    assert_error(shop.get("/v1/returns", params={"order_id": "99999"}), 404, "order_not_found")
    assert_error(shop.post("/v1/returns/rt_nope/receive", json={}), 404, "return_not_found")
    assert_error(shop.post("/v1/returns", json={"order_id": "10003"}), 422, "validation_failed")
