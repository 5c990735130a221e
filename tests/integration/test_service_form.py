"""The service form's validation: identity by signed token or one-time code, the order, the new details."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from actions import customer_token
from actions.clients import Backends, use_backends
from actions.service_form import ValidateServiceForm
from tests.conftest import ShopApi
from tests.support.conversation import entity, make_tracker, run, slot_events, texts
from tests.support.processes import start_demoshop

SECRET = "test-token-secret-of-32-bytes-or-more"
FORM = "service_form"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("form")
    service, base = start_demoshop(tmp)
    shop = ShopApi(base)
    shop.backends = Backends.from_env({"DEMOSHOP_URL": base, "DEMOSHOP_API_KEY": "test-key"})
    shop.database = tmp / "demoshop.sqlite"
    yield shop
    service.stop()


@pytest.fixture(autouse=True)
def clients(api, monkeypatch):
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    use_backends(api.backends)
    yield
    use_backends(None)


def form_turn(text, intent="inform", *, slots=None, entities=None, metadata=None, sender_id=None):
    return make_tracker(
        text, intent, slots=slots, entities=entities, metadata=metadata, active_loop=FORM, sender_id=sender_id
    )


def latest_code(api: ShopApi, customer_id: str) -> str:
    body = api.get("/v1/outbox", params={"customer_id": customer_id}).json()["messages"][0]["body"]
    return re.search(r"\d{6}", body).group(0)


def test_a_signed_token_skips_verification_and_the_only_likely_order_is_picked(api):
    token = customer_token.issue("C1001", secret=SECRET)
    text = "where is my refund?"
    messages, events = run(
        ValidateServiceForm(),
        form_turn(text, "check_refund_status", slots={"goal": "refund_status"}, metadata={"customer_token": token}),
    )
    slots = slot_events(events)
    assert slots["customer_id"] == "C1001" and slots["order_id"] == "10001"
    assert slots["requested_slot"] is None  # nothing left to ask
    assert "I've found order 10001" in texts(messages)


def test_a_forged_or_expired_token_is_ignored(api):
    forged = customer_token.issue("C1001", secret="not-the-secret")
    expired = customer_token.issue("C1001", secret=SECRET, now=0)
    for token in (forged, expired):
        _, events = run(
            ValidateServiceForm(),
            form_turn(
                "where is my order",
                "check_order_status",
                slots={"goal": "order_status"},
                metadata={"customer_token": token},
            ),
        )
        slots = slot_events(events)
        assert "customer_id" not in slots and slots["requested_slot"] == "login_email"


def test_the_order_number_said_up_front_is_kept_and_the_email_asked_for(api):
    text = "has 10002 shipped?"
    _, events = run(
        ValidateServiceForm(),
        form_turn(
            text, "check_order_status", slots={"goal": "order_status"}, entities=[entity("order_id", "10002", text)]
        ),
    )
    slots = slot_events(events)
    assert slots["order_id"] == "10002" and slots["requested_slot"] == "login_email"


def test_known_and_unknown_emails_get_the_same_answer(api):
    known = api.get("/v1/customers/C1001").json()["email"]
    answers = []
    for email in (known, "stranger@example.com"):
        messages, events = run(
            ValidateServiceForm(),
            form_turn(
                email,
                slots={"goal": "order_status", "requested_slot": "login_email"},
                entities=[entity("email", email, email)],
            ),
        )
        answers.append(texts(messages).replace(email, "EMAIL"))
        assert slot_events(events)["requested_slot"] == "verification_code"
    assert answers[0] == answers[1] and "6-digit code" in answers[0]


def test_a_right_code_verifies_and_an_order_of_someone_else_is_dropped(api):
    email = api.get("/v1/customers/C1001").json()["email"]
    sender = "form-code-test"
    _, events = run(
        ValidateServiceForm(),
        form_turn(
            email,
            sender_id=sender,
            entities=[entity("email", email, email)],
            slots={"goal": "order_status", "order_id": "10004", "requested_slot": "login_email"},
        ),
    )
    state = slot_events(events)["verification"]
    assert state["customer_id"] == "C1001"
    code = latest_code(api, "C1001")
    wrong = "000000" if code != "000000" else "111111"
    slots = {
        "goal": "order_status",
        "order_id": "10004",
        "login_email": email,
        "verification": state,
        "requested_slot": "verification_code",
    }
    messages, events = run(ValidateServiceForm(), form_turn(wrong, sender_id=sender, slots=slots))
    assert "isn't right. You have 2 more tries" in texts(messages)
    slots["verification"] = slot_events(events)["verification"]
    messages, events = run(ValidateServiceForm(), form_turn(f"the code is {code}", sender_id=sender, slots=slots))
    result = slot_events(events)
    assert result["customer_id"] == "C1001" and result["verification_code"] == "verified"
    assert result["order_id"] is None and result["requested_slot"] == "order_id"
    assert "you're verified" in texts(messages) and "couldn't find order 10004" in texts(messages)


def test_an_expired_code_is_replaced_by_a_new_one_that_works(api):
    email = api.get("/v1/customers/C1001").json()["email"]
    sender = "form-expired-code"
    slots = {"goal": "order_status", "order_id": "10002", "login_email": email, "requested_slot": "verification_code"}
    _, events = run(
        ValidateServiceForm(),
        form_turn(
            email,
            sender_id=sender,
            entities=[entity("email", email, email)],
            slots={**slots, "requested_slot": "login_email"},
        ),
    )
    slots["verification"] = first = slot_events(events)["verification"]
    code = latest_code(api, "C1001")
    # The shop expires a code when its clock passes the code's stored end: move that end back to when the code
    # was made, as if the shopper came back 10 minutes later.
    with sqlite3.connect(api.database) as db:
        db.execute("UPDATE verifications SET expires_at = created_at WHERE id = ?", (first["verification_id"],))

    newest = api.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"][0]["id"]
    messages, events = run(ValidateServiceForm(), form_turn(code, sender_id=sender, slots=slots))
    assert "That code has expired, so I've sent you a new one" in texts(messages)
    assert api.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"][0]["id"] > newest
    result = slot_events(events)
    renewed = result["verification"]
    assert renewed["verification_id"] != first["verification_id"] and renewed["attempts"] == 0
    assert result["verification_code"] is None and result["requested_slot"] == "verification_code"
    assert "customer_id" not in result
    new_code = latest_code(api, "C1001")

    slots["verification"] = renewed
    messages, events = run(ValidateServiceForm(), form_turn(new_code, sender_id=sender, slots=slots))
    result = slot_events(events)
    assert "you're verified" in texts(messages)
    assert result["customer_id"] == "C1001" and result["verification_code"] == "verified"
    assert result["requested_slot"] is None  # 10002 is C1001's: nothing left to ask


def test_three_wrong_codes_end_the_check(api):
    slots = {
        "goal": "order_status",
        "login_email": "stranger@example.com",
        "requested_slot": "verification_code",
        "verification": {"customer_id": None, "verification_id": None, "attempts": 0},
    }
    for _attempt in range(3):
        messages, events = run(ValidateServiceForm(), form_turn("123456", slots=slots))
        slots["verification"] = slot_events(events)["verification"]
    assert "three wrong codes" in texts(messages)
    assert slots["verification"]["failed"] is True and slot_events(events)["requested_slot"] is None


def test_order_numbers_are_checked_for_shape_and_owner(api):
    base = {"goal": "order_status", "customer_id": "C1001", "requested_slot": "order_id"}
    messages, events = run(ValidateServiceForm(), form_turn("1234", slots=base))
    assert "5 digits" in texts(messages) and slot_events(events)["order_id"] is None
    text = "10004"
    messages, events = run(
        ValidateServiceForm(), form_turn(text, slots=base, entities=[entity("order_id", text, text)])
    )
    assert "couldn't find order 10004" in texts(messages) and slot_events(events)["order_id"] is None


def test_a_new_address_is_read_or_what_is_missing_is_said(api):
    base = {"goal": "change_address", "customer_id": "C1003", "order_id": "10007", "requested_slot": "new_address"}
    messages, events = run(ValidateServiceForm(), form_turn("to my sister's place", slots=base))
    assert "couldn't find the street" in texts(messages) and slot_events(events)["new_address"] is None
    text = "Oudegracht 10, 3511 AL Utrecht"
    _, events = run(ValidateServiceForm(), form_turn(text, slots=base))
    address = json.loads(slot_events(events)["new_address"])
    assert address == {
        "line1": "Oudegracht 10",
        "city": "Utrecht",
        "postcode": "3511 AL",
        "country": "NL",
    }  # the postcode format tells the country


def test_switching_topic_keeps_the_order(api):
    _, events = run(
        ValidateServiceForm(),
        form_turn(
            "actually cancel it",
            "cancel_order",
            slots={"goal": "cancel_order", "customer_id": "C1003", "order_id": "10007", "requested_slot": None},
        ),
    )
    assert slot_events(events).get("requested_slot") is None
    assert "order_id" not in slot_events(events) or slot_events(events)["order_id"] == "10007"


def test_a_new_request_without_an_order_number_does_not_reuse_the_last_one(api):
    slots = {"goal": "refund_status", "customer_id": "C1001", "order_id": "10002", "requested_slot": None}
    _, events = run(ValidateServiceForm(), form_turn("where is my refund", "check_refund_status", slots=slots))
    assert slot_events(events)["order_id"] == "10001"  # the only returned order, not the last one talked about
    kept = {"goal": "cancel_order", "customer_id": "C1003", "order_id": "10007", "requested_slot": None}
    _, events = run(ValidateServiceForm(), form_turn("can you cancel it?", "cancel_order", slots=kept))
    assert slot_events(events).get("order_id", "10007") == "10007"


def test_an_address_split_by_the_model_is_read_whole_and_its_postcode_is_no_order_number(api):
    text = "please send order 10007 to Hauptstraße 5, 10115 Berlin, Germany"
    street = text.index("Hauptstraße")
    entities = [
        entity("order_id", "10007", text),
        {"entity": "address", "value": "Hauptstraße 5", "start": street, "end": street + 13},
        {"entity": "address", "value": "10115 Berlin", "start": text.index("10115"), "end": text.index("10115") + 12},
        {"entity": "order_id", "value": "10115", "start": text.index("10115"), "end": text.index("10115") + 5},
    ]
    _, events = run(
        ValidateServiceForm(),
        form_turn(
            text, "change_shipping_address", entities=entities, slots={"goal": "change_address", "customer_id": "C1003"}
        ),
    )
    slots = slot_events(events)
    assert slots["order_id"] == "10007"
    assert json.loads(slots["new_address"]) == {
        "line1": "Hauptstraße 5",
        "city": "Berlin",
        "postcode": "10115",
        "country": "DE",
    }


def test_an_email_answer_read_as_update_account_does_not_switch_the_goal(api):
    email = "someone@example.com"
    text = f"the email on my account is {email}"
    history = [{"event": "slot", "name": "goal", "value": "refund_status", "timestamp": 1.0}]
    from tests.support.conversation import user_event

    tracker = make_tracker(
        text,
        "update_account",
        active_loop=FORM,
        entities=[entity("email", email, text)],
        history=[user_event("where is my refund", "check_refund_status"), *history],
        slots={"goal": "update_account", "requested_slot": "login_email"},
    )
    tracker.events.append({"event": "slot", "name": "goal", "value": "update_account", "timestamp": 2.0})
    _, events = run(ValidateServiceForm(), tracker)
    slots = slot_events(events)
    assert slots["goal"] == "refund_status" and slots["login_email"] == email
