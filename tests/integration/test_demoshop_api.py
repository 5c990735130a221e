"""The demo shop's v1 contract and business rules, against the real service (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests


def key() -> str:
    return uuid.uuid4().hex


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


# --- health and auth -------------------------------------------------------------------------------


def test_health_needs_no_key_and_reports_the_database(shop):
    body = requests.get(shop.base + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_every_v1_endpoint_refuses_a_missing_or_wrong_key(shop):
    for path in ("/v1/orders/10001", "/v1/customers/C1001", "/v1/payments?order_id=10001", "/v1/tickets/1"):
        assert_error(requests.get(shop.base + path, timeout=5), 401, "unauthorized")
        wrong = requests.get(shop.base + path, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert_error(wrong, 401, "unauthorized")
    assert_error(requests.post(shop.base + "/v1/refunds", json={}, timeout=5), 401, "unauthorized")


def test_the_request_id_is_echoed_for_tracing(shop):
    response = shop.get("/v1/orders/10001", headers={"X-Request-ID": "trace-me-123"})
    assert response.headers["X-Request-ID"] == "trace-me-123"


# --- reads -------------------------------------------------------------------------------------------


def test_unknown_records_are_404_with_a_json_error(shop):
    assert_error(shop.get("/v1/orders/99999"), 404, "order_not_found")
    assert_error(shop.get("/v1/customers/C9999"), 404, "customer_not_found")
    assert_error(shop.get("/v1/refunds/re_nope"), 404, "refund_not_found")
    assert_error(shop.get("/v1/payments", params={"order_id": "99999"}), 404, "order_not_found")
    assert_error(shop.get("/v1/nowhere"), 404, "not_found")


def test_an_order_carries_status_items_totals_and_shipment(shop):
    order = shop.get("/v1/orders", params={"status": "shipped", "limit": 1}).json()["orders"][0]
    assert order["items"] and order["currency"] in ("EUR", "GBP")
    items_total = sum(Decimal(i["total"]) for i in order["items"])
    assert Decimal(order["subtotal"]) == items_total
    assert Decimal(order["total"]) == items_total + Decimal(order["shipping_cost"])
    shipment = order["shipment"]
    assert shipment["carrier"] and shipment["tracking_number"] and shipment["estimated_delivery"]
    assert len(order["id"]) == 5 and order["id"].isdigit()


def test_orders_filter_by_customer_status_and_limit(shop):
    mine = shop.get("/v1/orders", params={"customer_id": "C1001"}).json()
    assert mine["total"] >= 3 and all(o["customer_id"] == "C1001" for o in mine["orders"])
    delivered = shop.get("/v1/orders", params={"status": "delivered", "limit": 5}).json()
    assert len(delivered["orders"]) == 5 and delivered["total"] > 5
    assert all(o["status"] == "delivered" for o in delivered["orders"])
    assert_error(shop.get("/v1/orders", params={"status": "lost"}), 422, "invalid_status")
    assert_error(shop.get("/v1/orders", params={"limit": "0"}), 422, "invalid_parameter")
    assert_error(shop.get("/v1/orders", params={"limit": "ten"}), 422, "invalid_parameter")


def test_customers_are_found_by_email_case_insensitively(shop):
    customer = shop.get("/v1/customers/C1001").json()
    found = shop.get("/v1/customers", params={"email": customer["email"].upper()}).json()["customers"]
    assert [c["id"] for c in found] == ["C1001"]
    assert shop.get("/v1/customers", params={"email": "nobody@example.com"}).json()["customers"] == []
    assert_error(shop.get("/v1/customers"), 400, "missing_filter")


def test_payments_list_charges_and_refunds_with_totals(shop):
    record = shop.get("/v1/payments", params={"order_id": "10001"}).json()
    assert record["charges"] and record["refunds"]
    assert Decimal(record["captured"]) == sum(
        Decimal(c["amount"]) for c in record["charges"] if c["status"] == "succeeded"
    )
    assert_error(shop.get("/v1/payments"), 400, "missing_filter")


# --- bad input ---------------------------------------------------------------------------------------


def test_bad_bodies_get_400_or_422_and_never_crash(shop):
    order = shop.find_order("paid")
    url = f"{shop.base}/v1/orders/{order['id']}/shipping-address"
    raw = shop.http.put(url, data="{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert_error(raw, 400, "invalid_json")
    assert_error(shop.put(f"/v1/orders/{order['id']}/shipping-address", json=[1, 2]), 400, "invalid_json")
    body = assert_error(
        shop.put(f"/v1/orders/{order['id']}/shipping-address", json={"line1": "x"}), 422, "validation_failed"
    )
    assert {d["field"] for d in body["error"]["details"]} >= {"city", "postcode", "country"}
    assert_error(
        shop.post("/v1/tickets", json={"queue": "nowhere", "subject": "s", "summary": "s"}), 422, "validation_failed"
    )
    assert_error(
        shop.post("/v1/refunds", json={"order_id": order["id"], "reason": "x", "amount": "-5"}), 422, "invalid_amount"
    )
    assert_error(
        shop.post("/v1/refunds", json={"order_id": order["id"], "reason": "x", "amount": "1.234"}),
        422,
        "invalid_amount",
    )
    assert_error(shop.post("/v1/orders/10001/cancel", json={"reason": "x", "extra": 1}), 422, "validation_failed")
    assert shop.get("/v1/orders/" + order["id"]).json()["shipping_address"] == order["shipping_address"]


# --- cancellation and address changes ------------------------------------------------------------


def test_a_paid_order_cancels_and_starts_a_full_refund(shop):
    order = shop.find_order("paid", lambda o: True)
    response = shop.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "ordered twice"}, key=key())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order"]["status"] == "cancelled" and body["order"]["cancelled_at"]
    assert [r["status"] for r in body["refunds"]] == ["pending"]
    assert Decimal(body["refunds"][0]["amount"]) == Decimal(order["total"])
    assert_error(shop.post(f"/v1/orders/{order['id']}/cancel", json={}, key=key()), 409, "order_not_cancellable")


def test_a_shipped_order_cannot_be_cancelled_or_readdressed_and_stays_unchanged(shop):
    order = shop.find_order("shipped")
    before = shop.get("/v1/payments", params={"order_id": order["id"]}).json()
    assert_error(shop.post(f"/v1/orders/{order['id']}/cancel", json={}), 409, "order_not_cancellable")
    new = {"line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "country": "NL"}
    assert_error(shop.put(f"/v1/orders/{order['id']}/shipping-address", json=new), 409, "address_not_changeable")
    after_order = shop.get(f"/v1/orders/{order['id']}").json()
    assert after_order["status"] == "shipped" and after_order["shipping_address"] == order["shipping_address"]
    assert shop.get("/v1/payments", params={"order_id": order["id"]}).json() == before


def test_the_address_of_an_unshipped_order_changes_and_unsupported_countries_are_refused(shop):
    order = shop.find_order("pending")
    new = {
        "name": "Sam Visser",
        "line1": "Prinsengracht 263",
        "city": "Amsterdam",
        "postcode": "1016 GV",
        "country": "nl",
    }
    response = shop.put(f"/v1/orders/{order['id']}/shipping-address", json=new, key=key())
    assert response.status_code == 200, response.text
    assert response.json()["shipping_address"]["line1"] == "Prinsengracht 263"
    assert response.json()["shipping_address"]["country"] == "NL"
    body = assert_error(
        shop.put(f"/v1/orders/{order['id']}/shipping-address", json={**new, "country": "US"}), 422, "validation_failed"
    )
    assert "ship" in body["error"]["details"][0]["message"]


# --- idempotency -------------------------------------------------------------------------------------


def test_the_same_idempotency_key_cancels_once_and_replays_the_answer(shop):
    order = shop.find_order("paid")
    k = key()
    first = shop.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"}, key=k)
    second = shop.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"}, key=k)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    refunds = shop.get("/v1/payments", params={"order_id": order["id"]}).json()["refunds"]
    assert len([r for r in refunds if r["reason"] == "order cancelled"]) == 1


def test_a_key_reused_with_a_different_body_is_refused(shop):
    order = shop.find_order("delivered", lambda o: Decimal(o["total"]) > 20)
    k = key()
    ok = shop.post("/v1/refunds", json={"order_id": order["id"], "amount": "5.00", "reason": "scratch"}, key=k)
    assert ok.status_code == 201, ok.text
    again = shop.post("/v1/refunds", json={"order_id": order["id"], "amount": "9.00", "reason": "scratch"}, key=k)
    assert_error(again, 422, "idempotency_key_reused")


def test_concurrent_retries_with_one_key_create_one_refund(shop):
    order = shop.find_order("delivered", lambda o: Decimal(o["total"]) > 20)
    before = len(shop.get("/v1/payments", params={"order_id": order["id"]}).json()["refunds"])
    k = key()
    body = {"order_id": order["id"], "amount": "10.00", "reason": "late delivery goodwill"}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: shop.post("/v1/refunds", json=body, key=k), range(8)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    after = shop.get("/v1/payments", params={"order_id": order["id"]}).json()["refunds"]
    assert len(after) == before + 1


# --- refunds -----------------------------------------------------------------------------------------


def test_refunds_never_exceed_what_was_paid(shop):
    order = shop.find_order("delivered", lambda o: Decimal(o["total"]) > 20)
    record = shop.get("/v1/payments", params={"order_id": order["id"]}).json()
    room = Decimal(record["captured"]) - sum(Decimal(r["amount"]) for r in record["refunds"] if r["status"] != "failed")
    too_much = shop.post(
        "/v1/refunds", json={"order_id": order["id"], "amount": str(room + Decimal("0.01")), "reason": "x"}, key=key()
    )
    assert_error(too_much, 409, "amount_exceeds_refundable")
    part = shop.post("/v1/refunds", json={"order_id": order["id"], "amount": "3.50", "reason": "scuffed"}, key=key())
    assert part.status_code == 201 and part.json()["status"] == "pending" and part.json()["amount"] == "3.50"
    rest = shop.post("/v1/refunds", json={"order_id": order["id"], "reason": "returned"}, key=key())
    assert rest.status_code == 201 and Decimal(rest.json()["amount"]) == room - Decimal("3.50")
    assert_error(
        shop.post("/v1/refunds", json={"order_id": order["id"], "reason": "x"}, key=key()), 409, "already_refunded"
    )
    fetched = shop.get(f"/v1/refunds/{part.json()['id']}").json()
    assert fetched["order_id"] == order["id"] and fetched["amount"] == "3.50"


def test_an_unpaid_order_has_nothing_to_refund(shop):
    order = shop.find_order("pending")
    assert_error(shop.post("/v1/refunds", json={"order_id": order["id"], "reason": "x"}), 409, "nothing_to_refund")
    assert_error(shop.post("/v1/refunds", json={"order_id": "99999", "reason": "x"}), 404, "order_not_found")


# --- CRM ---------------------------------------------------------------------------------------------


def test_contact_details_update_with_validation_and_uniqueness(shop):
    response = shop.patch("/v1/customers/C1040", json={"phone": "+31 6 1111 2222"}, key=key())
    assert response.status_code == 200 and response.json()["phone"] == "+31 6 1111 2222"
    assert_error(shop.patch("/v1/customers/C1040", json={"email": "not-an-email"}), 422, "validation_failed")
    assert_error(shop.patch("/v1/customers/C1040", json={"phone": "12"}), 422, "validation_failed")
    assert_error(shop.patch("/v1/customers/C1040", json={}), 422, "validation_failed")
    taken = shop.get("/v1/customers/C1041").json()["email"]
    assert_error(shop.patch("/v1/customers/C1040", json={"email": taken}), 409, "email_taken")
    moved = shop.patch("/v1/customers/C1040", json={"email": "New.Address@Example.com"}, key=key())
    assert moved.json()["email"] == "new.address@example.com"


def test_a_one_time_code_verifies_and_three_wrong_codes_lock_it(shop):
    start = shop.post("/v1/customers/C1002/verification", json={"channel": "email"}, key=key())
    assert start.status_code == 201, start.text
    ver = start.json()
    assert "***@" in ver["destination"]
    code = _latest_code(shop, "C1002")
    wrong = "000000" if code != "000000" else "111111"
    first = shop.post(
        "/v1/customers/C1002/verification/check", json={"verification_id": ver["verification_id"], "code": wrong}
    ).json()
    assert first == {**first, "verified": False, "status": "invalid", "attempts_left": 2}
    good = shop.post(
        "/v1/customers/C1002/verification/check", json={"verification_id": ver["verification_id"], "code": code}
    ).json()
    assert good["verified"] is True and good["status"] == "verified"

    again = shop.post("/v1/customers/C1002/verification", json={"channel": "sms"}).json()
    code = _latest_code(shop, "C1002")
    wrong = "000000" if code != "000000" else "111111"
    results = [
        shop.post(
            "/v1/customers/C1002/verification/check", json={"verification_id": again["verification_id"], "code": wrong}
        ).json()
        for _ in range(3)
    ]
    assert [r["status"] for r in results] == ["invalid", "invalid", "locked"]
    late = shop.post(
        "/v1/customers/C1002/verification/check", json={"verification_id": again["verification_id"], "code": code}
    ).json()
    assert late["verified"] is False and late["status"] == "locked"
    assert_error(
        shop.post(
            "/v1/customers/C1003/verification/check", json={"verification_id": again["verification_id"], "code": code}
        ),
        404,
        "verification_not_found",
    )
    assert_error(
        shop.post(
            "/v1/customers/C1002/verification/check",
            json={"verification_id": again["verification_id"], "code": "12ab56"},
        ),
        422,
        "validation_failed",
    )


def _latest_code(shop, customer_id: str) -> str:
    message = shop.get("/v1/outbox", params={"customer_id": customer_id}).json()["messages"][0]
    return "".join(ch for ch in message["body"] if ch.isdigit())[:6]


# --- helpdesk ----------------------------------------------------------------------------------------


def test_tickets_carry_the_handoff_and_take_messages(shop):
    ticket = {
        "queue": "refunds",
        "priority": "high",
        "subject": "Refund failed for order 10006",
        "summary": "Shopper asks where the refund is; the refund failed (card account closed).",
        "transcript": [{"sender": "user", "text": "where is my refund?"}, {"sender": "bot", "text": "Let me check."}],
        "metadata": {"order_id": "10006", "reason": "refund_failed", "intents": ["check_refund_status"]},
        "customer_id": "C1003",
        "conversation_id": "conv-abc",
    }
    k = key()
    created = shop.post("/v1/tickets", json=ticket, key=k)
    assert created.status_code == 201, created.text
    replay = shop.post("/v1/tickets", json=ticket, key=k)
    assert replay.json()["id"] == created.json()["id"]
    tid = created.json()["id"]
    message = shop.post(f"/v1/tickets/{tid}/messages", json={"author": "agent", "body": "Hi, I'm on it."})
    assert message.status_code == 201
    full = shop.get(f"/v1/tickets/{tid}").json()
    assert full["metadata"]["order_id"] == "10006" and full["transcript"][0]["text"] == "where is my refund?"
    assert [m["body"] for m in full["messages"]] == ["Hi, I'm on it."]
    listed = shop.get("/v1/tickets", params={"conversation_id": "conv-abc"}).json()["tickets"]
    assert [t["id"] for t in listed] == [tid]
    assert_error(
        shop.post("/v1/tickets/999999/messages", json={"author": "agent", "body": "x"}), 404, "ticket_not_found"
    )
