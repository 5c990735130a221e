"""A delivered order is refunded only after its return arrives, through the actions against the real demo shop:
the refund request offers the return, a yes (even repeated) starts exactly one, and the refund follows only
when the warehouse receives it. Its own demo shop, since the flow turns order 10003 into a returned order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actions.clients import Backends, use_backends
from actions.confirmation import ActionConfirmPending
from actions.refunds import ActionRequestRefund
from tests.conftest import ShopApi
from tests.integration.test_actions import ENV, confirm, verified
from tests.support.conversation import make_tracker, render, run, slot_events, texts
from tests.support.processes import start_demoshop


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    service, base = start_demoshop(tmp_path_factory.mktemp("return-flow"))
    shop = ShopApi(base)
    use_backends(Backends.from_env({**ENV, "DEMOSHOP_URL": base}))
    yield shop
    use_backends(None)
    service.stop()


def test_a_delivered_order_is_not_refunded_but_its_return_is_offered_and_started_once(api):
    refunds_before = api.get("/v1/payments", params={"order_id": "10003"}).json()["refunds"]
    tracker = make_tracker(slots=verified("C1001", order_id="10003"))
    messages, events = run(ActionRequestRefund(), tracker)
    slots = slot_events(events)
    assert slots["pending"] == "confirm" and slots["pending_operation"]["op"] == "start_return"
    order = api.get("/v1/orders/10003").json()
    assert Decimal(slots["pending_operation"]["amount"]) == Decimal(order["total"])
    assert "Shall I start a return for order 10003?" in texts(messages)
    assert [b["payload"] for b in render(messages[0])["buttons"]] == ["/affirm", "/deny"]

    yes = confirm(events, tracker)
    done, done_events = run(ActionConfirmPending(), yes)
    again, _ = run(ActionConfirmPending(), yes)  # the same yes again (a retried action run): still one return
    [started] = api.get("/v1/returns", params={"order_id": "10003"}).json()["returns"]
    assert started["status"] == "requested"
    for said in (texts(done), texts(again)):
        assert started["id"] in said and started["label_url"] in said and "within 2 business days" in said
    assert slot_events(done_events)["pending"] is None
    # no refund until the parcel is back: not on the request, nor on the yes
    assert api.get("/v1/payments", params={"order_id": "10003"}).json()["refunds"] == refunds_before

    asked_again, again_events = run(ActionRequestRefund(), make_tracker(slots=verified("C1001", order_id="10003")))
    assert "hasn't been sent yet" in texts(asked_again) and started["label_url"] in texts(asked_again)
    assert "pending" not in slot_events(again_events)

    api.post(f"/v1/returns/{started['id']}/ship", json={}, key="ship-10003")  # the carrier's scan
    in_transit, _ = run(ActionRequestRefund(), make_tracker(slots=verified("C1001", order_id="10003")))
    assert "is on its way to us" in texts(in_transit)
    assert api.get("/v1/payments", params={"order_id": "10003"}).json()["refunds"] == refunds_before

    api.post(f"/v1/returns/{started['id']}/receive", json={}, key="receive-10003")  # the warehouse
    [refund] = api.get("/v1/payments", params={"order_id": "10003"}).json()["refunds"]
    received, events = run(ActionRequestRefund(), make_tracker(slots=verified("C1001", order_id="10003")))
    assert "arrived at our warehouse" in texts(received) and "is being processed" in texts(received)
    assert f"€{Decimal(refund['amount']):,.2f}" in texts(received) and "pending" not in slot_events(events)
