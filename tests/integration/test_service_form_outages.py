"""A retailer system that stops answering in the middle of the service form, against real demo shops.

"Stopped" is a demo shop that was started and then stopped: each system's clients can point at it on its own
(`CRM_BASE_URL`, `ORDERS_BASE_URL`) while the others use a running shop. Whatever fails, the shopper hears which
system isn't answering and is offered a person, the slot being checked stays empty, what was settled before
stays, and the form and the turn end (the goal's action must not answer on half-collected slots).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from actions import customer_token
from actions.clients import Backends, use_backends
from actions.order_choice import ActionAskOrderId
from actions.service_form import ValidateServiceForm
from tests.conftest import ShopApi
from tests.support.conversation import entity, make_tracker, render, run, slot_events, texts
from tests.support.processes import Service, start_demoshop

ENV = {
    "DEMOSHOP_API_KEY": "test-key",
    "BACKEND_MAX_ATTEMPTS": "2",
    "BACKEND_BACKOFF_INITIAL": "0.01",
    "BACKEND_CONNECT_TIMEOUT": "0.5",
}
SECRET = "test-token-secret-of-32-bytes-or-more"
OFFER = [{"title": "Yes, connect me", "payload": "/affirm"}, {"title": "No, thanks", "payload": "/deny"}]
END_OF_TURN = {"event": "followup", "timestamp": None, "name": "action_listen"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A running demo shop, with the address of another one that was started and stopped."""
    service, base = start_demoshop(tmp_path_factory.mktemp("up"))
    stopped, stopped_base = start_demoshop(tmp_path_factory.mktemp("stopped"))
    stopped.stop()
    api = ShopApi(base)
    api.stopped_base = stopped_base
    yield api
    service.stop()


@pytest.fixture(autouse=True)
def no_clients_afterwards(monkeypatch):
    monkeypatch.setenv("CUSTOMER_TOKEN_SECRET", SECRET)
    yield
    use_backends(None)


def point_clients(shop: ShopApi, *, down=()) -> None:
    """The actions' clients: the running shop, except the systems in `down`, which get the stopped one."""
    stopped = {f"{system.upper()}_BASE_URL": shop.stopped_base for system in down}
    use_backends(Backends.from_env({**ENV, "DEMOSHOP_URL": shop.base, **stopped}))


def form_turn(text, intent="inform", *, slots, entities=None, metadata=None, sender_id=None):
    return make_tracker(
        text, intent, slots=slots, entities=entities, metadata=metadata, sender_id=sender_id, active_loop="service_form"
    )


def latest_code(shop: ShopApi, customer_id: str) -> str:
    body = shop.get("/v1/outbox", params={"customer_id": customer_id}).json()["messages"][0]["body"]
    return re.search(r"\d{6}", body).group(0)


def send_code(shop: ShopApi, goal: str, sender: str, **slots) -> dict:
    """Answer "what's your email?" with C1001's address; returns the form's slots afterwards."""
    email = shop.get("/v1/customers/C1001").json()["email"]
    base = {"goal": goal, "requested_slot": "login_email", **slots}
    _, events = run(
        ValidateServiceForm(), form_turn(email, slots=base, entities=[entity("email", email, email)], sender_id=sender)
    )
    return {**base, **slot_events(events)}


def assert_outage_told(messages, events, system: str, words: str) -> dict:
    """The shopper heard once that `words` system isn't answering and was offered a person; the form and the
    turn end. Returns the slots the run set."""
    said = texts(messages)
    assert f"Sorry, our {words} system isn't answering right now" in said
    assert said.count("isn't answering") == 1
    assert render(messages[-1])["buttons"] == OFFER
    slots = slot_events(events)
    assert slots["pending"] == "handoff" and slots["handoff_reason"] == f"backend_unavailable:{system}"
    assert slots["requested_slot"] is None and events[-1] == END_OF_TURN
    return slots


# --- the CRM, while the shopper proves who they are ------------------------------------------------------


def test_the_crm_stopped_while_the_email_is_checked_asks_for_it_again_later(shop):
    point_clients(shop, down=("crm",))
    email = shop.get("/v1/customers/C1001").json()["email"]
    slots = {"goal": "order_status", "requested_slot": "login_email"}
    messages, events = run(
        ValidateServiceForm(), form_turn(email, slots=slots, entities=[entity("email", email, email)])
    )
    changed = assert_outage_told(messages, events, "crm", "customer account")
    assert changed["login_email"] is None and "verification" not in changed and "customer_id" not in changed
    assert "6-digit code" not in texts(messages)

    # Nothing was marked as failed: once the CRM answers, the same email starts the check.
    point_clients(shop)
    again = {**slots, **changed, "requested_slot": "login_email"}
    messages, events = run(
        ValidateServiceForm(), form_turn(email, slots=again, entities=[entity("email", email, email)])
    )
    assert "6-digit code" in texts(messages)
    assert slot_events(events)["verification"]["customer_id"] == "C1001"


def test_the_crm_stopped_at_the_code_check_keeps_the_check_for_later(shop):
    point_clients(shop)
    slots = send_code(shop, "order_status", "outage-code-check")
    code = latest_code(shop, "C1001")
    slots["requested_slot"] = "verification_code"

    point_clients(shop, down=("crm",))
    messages, events = run(ValidateServiceForm(), form_turn(code, slots=slots, sender_id="outage-code-check"))
    changed = assert_outage_told(messages, events, "crm", "customer account")
    assert changed["verification_code"] is None
    assert "verification" not in changed and "customer_id" not in changed  # the check in progress is untouched

    point_clients(shop)
    messages, events = run(ValidateServiceForm(), form_turn(code, slots=slots, sender_id="outage-code-check"))
    assert "you're verified" in texts(messages) and slot_events(events)["customer_id"] == "C1001"


def expire_pending_codes(database: Path, customer_id: str) -> None:
    """Move the end of the customer's pending codes back to when they were made: the shop's own clock and check
    then find them expired, as they would 10 minutes later."""
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE verifications SET expires_at = created_at WHERE customer_id = ? AND status = 'pending'",
            (customer_id,),
        )


def codes_in_outbox(database: Path, customer_id: str) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE customer_id = ?", (customer_id,)).fetchone()[0]


def stop_after_it_answers(service: Service, path_end: str, wait: float) -> threading.Thread:
    """Stop the shop `wait` seconds after it logged its answer to a request whose path ends with `path_end`."""

    def answered() -> bool:
        for line in Path(service.log_path).read_text(errors="replace").splitlines():
            try:
                if json.loads(line).get("path", "").endswith(path_end):
                    return True
            except ValueError:
                continue
        return False

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not answered():
            time.sleep(0.02)
        time.sleep(wait)
        service.stop()  # the shop dies at once: it does not finish requests in flight

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_an_expired_code_with_the_crm_stopped_before_a_new_one_is_sent(tmp_path, caplog):
    # This shop waits `delay` seconds before it works out any answer, so stopping it `wait` seconds after it
    # answered the code check lands while the new code's request waits: the check answered, no new code sent.
    delay, wait = 1.5, 0.75
    service, base = start_demoshop(tmp_path, env={"DEMOSHOP_FAULT_DELAY_MS": str(int(delay * 1000))})
    try:
        shop = ShopApi(base)
        use_backends(Backends.from_env({**ENV, "DEMOSHOP_URL": base}))
        slots = send_code(shop, "order_status", "outage-expired")
        database = tmp_path / "demoshop.sqlite"
        expire_pending_codes(database, "C1001")
        codes_sent = codes_in_outbox(database, "C1001")
        slots["requested_slot"] = "verification_code"

        watcher = stop_after_it_answers(service, "/verification/check", wait)
        with caplog.at_level(logging.INFO, logger="actions.backends"):
            messages, events = run(
                ValidateServiceForm(), form_turn(latest_code(shop, "C1001"), slots=slots, sender_id="outage-expired")
            )
        watcher.join(10)
    finally:
        service.stop()

    calls = {r.operation: r.outcome for r in caplog.records if getattr(r, "operation", None)}
    assert calls == {"check_verification": "ok", "start_verification": "connection_error"}
    changed = assert_outage_told(messages, events, "crm", "customer account")
    assert "sent you a new one" not in texts(messages)
    assert changed["verification_code"] is None and "verification" not in changed  # the expired check, to restart later
    with sqlite3.connect(database) as db:
        status = db.execute(
            "SELECT status FROM verifications WHERE id = ?", (slots["verification"]["verification_id"],)
        ).fetchone()[0]
    assert codes_in_outbox(database, "C1001") == codes_sent and status == "expired"


# --- the orders system, once the shopper is known ------------------------------------------------------


def test_the_orders_system_stopped_when_a_typed_order_is_checked(shop):
    point_clients(shop, down=("orders",))
    slots = {"goal": "order_status", "customer_id": "C1001", "requested_slot": "order_id"}
    messages, events = run(
        ValidateServiceForm(), form_turn("10002", slots=slots, entities=[entity("order_id", "10002", "10002")])
    )
    changed = assert_outage_told(messages, events, "orders", "order")
    assert changed["order_id"] is None and "customer_id" not in changed


def test_the_orders_system_stopped_right_after_verification_keeps_the_identity(shop):
    point_clients(shop, down=("orders",))  # the code's check is the CRM's, which answers
    slots = send_code(shop, "order_status", "outage-after-code", order_id="10002")
    slots["requested_slot"] = "verification_code"
    messages, events = run(
        ValidateServiceForm(), form_turn(latest_code(shop, "C1001"), slots=slots, sender_id="outage-after-code")
    )
    assert texts(messages).startswith("Thanks, you're verified.")
    changed = assert_outage_told(messages, events, "orders", "order")
    assert changed["customer_id"] == "C1001" and changed["verification_code"] == "verified"
    assert changed["verification"] == {"customer_id": "C1001", "verified": True}
    assert "order_id" not in changed  # 10002 could not be checked: left as the shopper said it
    assert "couldn't find order" not in texts(messages)


def test_the_orders_system_stopped_when_the_only_likely_order_is_looked_for_after_verification(shop):
    point_clients(shop, down=("orders",))
    slots = send_code(shop, "refund_status", "outage-pick")
    slots["requested_slot"] = "verification_code"
    messages, events = run(
        ValidateServiceForm(), form_turn(latest_code(shop, "C1001"), slots=slots, sender_id="outage-pick")
    )
    changed = assert_outage_told(messages, events, "orders", "order")
    assert changed["customer_id"] == "C1001" and "order_id" not in changed
    assert "I've found order" not in texts(messages)


def test_the_orders_system_stopped_when_a_signed_in_shopper_starts_a_request(shop):
    point_clients(shop, down=("orders",))
    token = customer_token.issue("C1001", secret=SECRET)
    messages, events = run(
        ValidateServiceForm(),
        form_turn(
            "where is my refund?",
            "check_refund_status",
            slots={"goal": "refund_status"},
            metadata={"customer_token": token},
        ),
    )
    changed = assert_outage_told(messages, events, "orders", "order")
    assert changed["customer_id"] == "C1001" and "order_id" not in changed


def test_the_orders_system_stopped_when_the_form_asks_which_order(shop):
    point_clients(shop, down=("orders",))
    messages, events = run(
        ActionAskOrderId(),
        make_tracker(
            slots={"goal": "refund_status", "customer_id": "C1001", "requested_slot": "order_id"},
            active_loop="service_form",
        ),
    )
    assert_outage_told(messages, events, "orders", "order")
    assert "Which order is it about?" not in texts(messages)


def test_the_orders_system_stopped_when_a_new_address_is_read(shop):
    point_clients(shop, down=("orders",))
    slots = {"goal": "change_address", "customer_id": "C1003", "order_id": "10007", "requested_slot": "new_address"}
    messages, events = run(ValidateServiceForm(), form_turn("Oudegracht 10, 3511 AL Utrecht", slots=slots))
    changed = assert_outage_told(messages, events, "orders", "order")
    assert changed["new_address"] is None and "order_id" not in changed
