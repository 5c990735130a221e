"""Every custom action against the real demo shop: what the shopper is told, what changes, what doesn't."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from actions.account import ActionUpdateAccount
from actions.clients import Backends, use_backends
from actions.confirmation import ActionConfirmPending, ActionDeclinePending
from actions.correction import ActionCorrectOrder
from actions.fallback import ActionFallback
from actions.handoff import ActionHandoff
from actions.order_choice import ActionAskOrderId
from actions.orders import ActionCancelOrder, ActionChangeAddress, ActionOrderStatus, ActionSendInvoice
from actions.payments import ActionPaymentIssue
from actions.refunds import ActionRefundStatus, ActionRequestRefund
from tests.conftest import ShopApi
from tests.support.conversation import entity, make_tracker, run, slot_events, texts, user_event
from tests.support.processes import start_demoshop

ENV = {
    "DEMOSHOP_API_KEY": "test-key",
    "BACKEND_MAX_ATTEMPTS": "2",
    "BACKEND_BACKOFF_INITIAL": "0.01",
    "BACKEND_CONNECT_TIMEOUT": "0.5",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    service, base = start_demoshop(tmp_path_factory.mktemp("actions"))
    shop = ShopApi(base)
    shop.backends = Backends.from_env({**ENV, "DEMOSHOP_URL": base})
    yield shop
    service.stop()


@pytest.fixture(autouse=True)
def clients_of_the_test_shop(request):
    """Point the actions at the module's demo shop for each test, and at nothing afterwards."""
    if "api" in request.fixturenames:
        use_backends(request.getfixturevalue("api").backends)
    yield
    use_backends(None)


def verified(customer_id: str, **slots):
    """The slots of a shopper who verified a moment ago."""
    return {"customer_id": customer_id, "verified_at": time.time(), **slots}


def confirm(proposal_events, tracker, *, between=()):
    """Answer yes to a proposal, in the same conversation: the shopper's next message, or after `between`."""
    return make_tracker(
        "yes please",
        "affirm",
        sender_id=tracker.sender_id,
        slots={**tracker.slots, **slot_events(proposal_events)},
        history=[*tracker.events, *between],
    )


# --- order status ------------------------------------------------------------------------------------


def test_order_status_of_a_shipped_order_gives_carrier_tracking_and_eta(api):
    order = api.get("/v1/orders/10002").json()
    messages, events = run(ActionOrderStatus(), make_tracker(slots=verified("C1001", order_id="10002")))
    said = texts(messages)
    assert order["shipment"]["carrier"] in said and order["shipment"]["tracking_number"] in said
    assert "should arrive" in said and events == []


@pytest.mark.parametrize("order_id", ["10004", "99999"])
def test_someone_elses_order_and_an_unknown_one_get_the_same_answer(api, order_id):
    messages, events = run(ActionOrderStatus(), make_tracker(slots=verified("C1001", order_id=order_id)))
    assert texts(messages).startswith(f"I couldn't find order {order_id} on your account")
    assert "C1002" not in texts(messages) and slot_events(events) == {"order_id": None}


def test_nothing_is_revealed_to_an_unverified_shopper(api):
    messages, events = run(ActionOrderStatus(), make_tracker(slots={"order_id": "10002"}))
    assert "couldn't confirm that it's you" in texts(messages)
    assert "DHL" not in texts(messages) and "UPS" not in texts(messages)
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "verification_failed"}


# --- refund status -----------------------------------------------------------------------------------


def test_an_issued_refund_is_told_with_its_real_amount_method_and_dates(api):
    record = api.get("/v1/payments", params={"order_id": "10001"}).json()
    refund = record["refunds"][0]
    messages, events = run(ActionRefundStatus(), make_tracker(slots=verified("C1001", order_id="10001")))
    said = texts(messages)
    assert f"€{Decimal(refund['amount']):,.2f}" in said
    assert "We refunded" in said and "Banks usually take" in said and "expect it by" in said
    assert events == []


def test_pending_partial_and_failed_refunds(api):
    pending, _ = run(ActionRefundStatus(), make_tracker(slots=verified("C1002", order_id="10004")))
    assert "is being processed" in texts(pending)
    partial, _ = run(ActionRefundStatus(), make_tracker(slots=verified("C1002", order_id="10005")))
    assert "(part of the" in texts(partial)
    failed, events = run(ActionRefundStatus(), make_tracker(slots=verified("C1003", order_id="10006")))
    assert "failed" in texts(failed) and "isn't lost" in texts(failed)
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "refund_failed"}


def test_no_refund_yet_on_a_delivered_order_says_until_when_one_can_be_asked(api):
    messages, _ = run(ActionRefundStatus(), make_tracker(slots=verified("C1001", order_id="10003")))
    assert "There's no refund on order 10003" in texts(messages) and "until" in texts(messages)


# --- refund requests ---------------------------------------------------------------------------------


def test_a_return_in_transit_and_a_received_one_are_told_as_they_are(api):
    in_transit, events = run(ActionRequestRefund(), make_tracker(slots=verified("C1007", order_id="10241")))
    assert "is on its way to us" in texts(in_transit) and "pending" not in slot_events(events)
    status, _ = run(ActionRefundStatus(), make_tracker(slots=verified("C1007", order_id="10241")))
    assert "is on its way to us" in texts(status)
    received, _ = run(ActionRequestRefund(), make_tracker(slots=verified("C1002", order_id="10004")))
    assert "arrived at our warehouse" in texts(received) and "is being processed" in texts(received)


@pytest.mark.parametrize(
    "customer_id,order_id,expected",
    [
        ("C1001", "10002", "still on its way"),
        ("C1003", "10007", "cancel it"),
        ("C1005", "10010", "refunded automatically"),
        ("C1004", "10008", "hasn't been paid"),
    ],
)
def test_refusals_explain_the_policy(api, customer_id, order_id, expected):
    messages, events = run(ActionRequestRefund(), make_tracker(slots=verified(customer_id, order_id=order_id)))
    assert expected in texts(messages)
    assert "pending" not in slot_events(events)


def test_a_refund_after_the_window_is_refused_and_a_person_offered(api):
    messages, events = run(ActionRequestRefund(), make_tracker(slots=verified("C1005", order_id="10011")))
    assert "within 30 days of delivery" in texts(messages)
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "refund_outside_window"}


# --- cancel and re-address -----------------------------------------------------------------------------


def test_a_hesitant_yes_changes_nothing_and_asks_again(api):
    tracker = make_tracker(slots=verified("C1003", order_id="10007"))
    _, events = run(ActionCancelOrder(), tracker)
    unsure = make_tracker(
        "huh?",
        "affirm",
        sender_id=tracker.sender_id,
        slots={**tracker.slots, **slot_events(events)},
        history=tracker.events,
    )
    unsure.latest_message["intent"]["confidence"] = 0.72
    messages, answer = run(ActionConfirmPending(), unsure)
    assert "Just to be sure" in texts(messages) and slot_events(answer)["pending"] == "confirm"
    assert api.get("/v1/orders/10007").json()["status"] == "paid"


def test_cancel_asks_first_and_no_leaves_the_order_alone(api):
    tracker = make_tracker(slots=verified("C1003", order_id="10007"))
    messages, events = run(ActionCancelOrder(), tracker)
    assert "Shall I cancel it?" in texts(messages)
    no = make_tracker("no", "deny", sender_id=tracker.sender_id, slots=slot_events(events))
    answer, cleared = run(ActionDeclinePending(), no)
    assert answer[0]["response"] == "utter_declined" and slot_events(cleared)["pending_operation"] is None
    assert api.get("/v1/orders/10007").json()["status"] == "paid"


@pytest.mark.parametrize(
    "between",
    [
        user_event("actually, where is my refund?", "check_refund_status"),  # a new request
        user_event("how long do returns take?", "faq"),  # an FAQ
        user_event("sorry, I meant order 10008", "inform"),  # a correction
        user_event("can I talk to a person", "human_handoff"),  # a handoff
    ],
    ids=["new-request", "faq", "correction", "handoff"],
)
def test_a_yes_after_another_message_changes_nothing_and_says_so(api, between):
    tracker = make_tracker(slots=verified("C1003", order_id="10007"))
    _, events = run(ActionCancelOrder(), tracker)
    assert slot_events(events)["pending"] == "confirm"
    answer, cleared = run(ActionConfirmPending(), confirm(events, tracker, between=[between]))
    assert [m["response"] for m in answer] == ["utter_proposal_voided"]
    assert slot_events(cleared)["pending"] is None and slot_events(cleared)["pending_operation"] is None
    assert api.get("/v1/orders/10007").json()["status"] == "paid"


@pytest.mark.parametrize("verified_ago", [None, 3600])
def test_a_change_long_after_verifying_asks_to_verify_again_and_changes_nothing(api, verified_ago):
    slots = verified("C1003", order_id="10007")
    slots["verified_at"] = None if verified_ago is None else time.time() - verified_ago
    messages, events = run(ActionCancelOrder(), make_tracker(slots=slots))
    assert [m["response"] for m in messages] == ["utter_verify_again_for_change"]
    assert slot_events(events)["customer_id"] is None and "pending" not in slot_events(events)
    assert {"event": "followup", "name": "service_form", "timestamp": None} in events
    assert api.get("/v1/orders/10007").json()["status"] == "paid"


def test_an_unsure_yes_asks_again_and_the_next_yes_confirms(api):
    order = api.find_order("pending")
    tracker = make_tracker(slots=verified(order["customer_id"], order_id=order["id"]))
    _, proposed = run(ActionCancelOrder(), tracker)
    unsure = confirm(proposed, tracker)
    unsure.latest_message["intent"]["confidence"] = 0.5
    again, asked = run(ActionConfirmPending(), unsure)
    assert [m["response"] for m in again] == ["utter_confirm_again"]
    done, _ = run(ActionConfirmPending(), confirm(asked, unsure))
    assert f"order {order['id']} is cancelled" in texts(done)


def test_address_change_then_cancel_of_an_unshipped_order(api):
    order = api.find_order("pending")
    customer = order["customer_id"]
    new = json.dumps({"line1": "Lijnbaan 10", "city": "Rotterdam", "postcode": "3012 EL", "country": "NL"})
    tracker = make_tracker(slots=verified(customer, order_id=order["id"], new_address=new))
    messages, events = run(ActionChangeAddress(), tracker)
    assert "Lijnbaan 10" in texts(messages) and slot_events(events)["pending"] == "confirm"
    run(ActionConfirmPending(), confirm(events, tracker))
    assert api.get(f"/v1/orders/{order['id']}").json()["shipping_address"]["line1"] == "Lijnbaan 10"

    tracker = make_tracker(slots=verified(customer, order_id=order["id"]))
    _, events = run(ActionCancelOrder(), tracker)
    done, _ = run(ActionConfirmPending(), confirm(events, tracker))
    assert f"order {order['id']} is cancelled" in texts(done)
    assert api.get(f"/v1/orders/{order['id']}").json()["status"] == "cancelled"


def test_shipped_orders_cannot_be_cancelled_or_readdressed(api):
    cancel, events = run(ActionCancelOrder(), make_tracker(slots=verified("C1001", order_id="10002")))
    assert "already shipped" in texts(cancel) and "pending" not in slot_events(events)
    new = json.dumps({"line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "country": "NL"})
    move, _ = run(ActionChangeAddress(), make_tracker(slots=verified("C1001", order_id="10002", new_address=new)))
    assert "can't change its address" in texts(move)


# --- payments and invoices -----------------------------------------------------------------------------


def test_a_double_charge_is_explained_and_a_person_offered(api):
    messages, events = run(ActionPaymentIssue(), make_tracker(slots=verified("C1004", order_id="10009")))
    order = api.get("/v1/orders/10009").json()
    assert "2 payments" in texts(messages) and f"€{Decimal(order['total']):,.2f} too much" in texts(messages)
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "double_charge"}


def test_failed_and_retried_payments(api):
    failed, _ = run(ActionPaymentIssue(), make_tracker(slots=verified("C1004", order_id="10008")))
    assert "failed" in texts(failed) and "haven't received any money" in texts(failed)
    retried, events = run(ActionPaymentIssue(), make_tracker(slots=verified("C1006", order_id="10012")))
    assert "You've been charged once" in texts(retried) and events == []


def test_invoices_are_emailed_for_paid_orders_only(api):
    messages, _ = run(ActionSendInvoice(), make_tracker(slots=verified("C1001", order_id="10001")))
    assert "I've emailed invoice INV-" in texts(messages)
    outbox = api.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"]
    assert outbox[0]["subject"].startswith("Your invoice INV-")
    unpaid, _ = run(ActionSendInvoice(), make_tracker(slots=verified("C1004", order_id="10008")))
    assert "hasn't been paid" in texts(unpaid)


# --- account -------------------------------------------------------------------------------------------


def test_a_new_phone_number_is_confirmed_then_written_to_the_crm(api):
    tracker = make_tracker(slots=verified("C1020", new_contact="+31 6 5555 0101"))  # stored as E.164
    messages, events = run(ActionUpdateAccount(), tracker)
    assert "phone number" in texts(messages) and slot_events(events)["pending"] == "confirm"
    done, _ = run(ActionConfirmPending(), confirm(events, tracker))
    assert "Done: your phone number is now +31655550101" in texts(done)
    assert api.get("/v1/customers/C1020").json()["phone"] == "+31655550101"


def test_an_email_of_another_customer_is_refused(api):
    taken = api.get("/v1/customers/C1022").json()["email"]
    tracker = make_tracker(slots=verified("C1021", new_contact=taken))
    _, events = run(ActionUpdateAccount(), tracker)
    done, _ = run(ActionConfirmPending(), confirm(events, tracker))
    assert "belongs to another account" in texts(done)
    assert api.get("/v1/customers/C1021").json()["email"] != taken


# --- handoff -------------------------------------------------------------------------------------------


def test_handoff_creates_a_ticket_with_the_whole_context_and_pauses(api):
    history = [
        user_event("where is my refund?", "check_refund_status"),
        {"event": "bot", "text": "What's the email address on your account?", "timestamp": 2.0},
        user_event("482913", "inform", [entity("verification_code", "482913", "482913")]),
        {"event": "bot", "text": "A refund of €10 failed.", "timestamp": 3.0},
    ]
    tracker = make_tracker(
        "yes",
        "affirm",
        history=history,
        slots=verified(
            "C1003", order_id="10006", goal="refund_status", pending="handoff", handoff_reason="refund_failed"
        ),
    )
    messages, events = run(ActionHandoff(), tracker)
    ticket_id = slot_events(events)["handoff_ticket"]
    assert f"#{ticket_id}" in texts(messages) and "won't need to repeat" in texts(messages)
    # Agents answer by email, not in this chat: the shopper is told so, and when.
    assert "by email, at the address on your Larkspur account" in texts(messages)
    assert "Mon-Fri 08:00-20:00, Sat 09:00-17:00 CET" in texts(messages) and "right here" not in texts(messages)
    assert any(e.get("event") == "pause" for e in events)
    ticket = api.get(f"/v1/tickets/{ticket_id}").json()
    assert (ticket["queue"], ticket["priority"], ticket["customer_id"]) == ("refunds", "high", "C1003")
    assert ticket["metadata"]["order_id"] == "10006" and ticket["metadata"]["reason"] == "refund_failed"
    assert ticket["metadata"]["intents"] == ["check_refund_status", "inform", "affirm"]
    said = [line["text"] for line in ticket["transcript"]]
    assert "where is my refund?" in said and "[one-time code]" in said and "482913" not in json.dumps(ticket)
    assert "refund" in ticket["summary"] and ticket["conversation_id"] == tracker.sender_id


def test_a_person_on_request_goes_to_the_queue_of_the_topic(api):
    tracker = make_tracker("let me talk to a human", "human_handoff", slots={"goal": "payment_issue"})
    messages, events = run(ActionHandoff(), tracker)
    ticket = api.get(f"/v1/tickets/{slot_events(events)['handoff_ticket']}").json()
    # No customer on the ticket, so no address to answer to: the shopper is asked to write in with its number.
    assert f"write to support@larkspurhome.example and mention ticket #{ticket['id']}" in texts(messages)
    assert ticket["queue"] == "payments" and ticket["metadata"]["reason"] == "customer_request"
    assert ticket["metadata"]["verified"] is False


# --- a backend that is down ------------------------------------------------------------------------


def test_a_stopped_backend_gives_a_clear_message_and_an_offer_not_a_crash(tmp_path):
    service, base = start_demoshop(tmp_path)
    service.stop()
    use_backends(Backends.from_env({**ENV, "DEMOSHOP_URL": base}))
    messages, events = run(ActionOrderStatus(), make_tracker(slots=verified("C1001", order_id="10002")))
    assert "isn't answering right now" in texts(messages)
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "backend_unavailable:orders"}
    handoff, events = run(ActionHandoff(), make_tracker("yes", "affirm", slots={"pending": "handoff"}))
    assert "support@larkspurhome.example" in texts(handoff)
    assert not any(e.get("event") == "pause" for e in events)


# --- fallback, corrections, choosing an order ----------------------------------------------------------


def test_fallback_asks_to_rephrase_then_offers_a_person():
    first = make_tracker("blorp", "nlu_fallback")
    messages, events = run(ActionFallback(), first)
    assert messages[0]["response"] == "utter_ask_rephrase"
    assert events == [{"event": "followup", "timestamp": None, "name": "action_listen"}]
    second = make_tracker("zzz qq", "nlu_fallback", history=[user_event("blorp", "nlu_fallback")])
    messages, events = run(ActionFallback(), second)
    assert messages[0]["response"] == "utter_offer_handoff"
    assert slot_events(events) == {"pending": "handoff", "handoff_reason": "fallback"}
    oos = make_tracker("what's the weather", "out_of_scope", history=[user_event("hi", "greet")])
    messages, _ = run(ActionFallback(), oos)
    assert messages[0]["response"] == "utter_out_of_scope"


def test_fallback_after_an_answer_in_the_same_turn_stays_quiet_and_listens():
    """As Rasa's core fallback after a follow-up action: the shopper was answered; never loop or apologise."""
    answered = make_tracker("10001", "inform")
    answered.events.append({"event": "action", "name": "action_refund_status"})
    messages, events = run(ActionFallback(), answered)
    assert messages == []
    assert events == [{"event": "followup", "timestamp": None, "name": "action_listen"}]


def test_a_corrected_order_number_reruns_the_request(api):
    mine = [o["id"] for o in api.get("/v1/orders", params={"customer_id": "C1001"}).json()["orders"]]
    wrong, right = mine[0], mine[1]
    text = f"no, it's {right}"
    tracker = make_tracker(
        text,
        "inform",
        entities=[entity("order_id", right, text)],
        slots=verified("C1001", goal="order_status", order_id=wrong),
    )
    messages, events = run(ActionCorrectOrder(), tracker)
    assert slot_events(events)["order_id"] == right
    # The order-status answer for the corrected number comes in the same turn, with no follow-up action.
    assert f"Order {right}" in texts(messages) and wrong not in texts(messages)
    assert not any(e.get("event") == "followup" for e in events)


def test_asking_for_the_order_offers_the_shoppers_likely_orders(api):
    messages, _ = run(ActionAskOrderId(), make_tracker(slots=verified("C1001", goal="refund_status")))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    mine = {o["id"] for o in api.get("/v1/orders", params={"customer_id": "C1001"}).json()["orders"]}
    assert payloads[0] == '/inform{"order_id":"10001"}' and len(payloads) == min(5, len(mine))
    assert {p.split('"')[3] for p in payloads} <= mine
    anonymous, _ = run(ActionAskOrderId(), make_tracker(slots={"goal": "order_status"}))
    assert "5-digit number" in texts(anonymous) and not anonymous[0].get("buttons")
