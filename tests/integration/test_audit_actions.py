"""The audit trail written by the real action server (`python -m actions`, called on /webhook as Rasa calls it)
against the real demo shop: one record per confirmed change, also when the same "yes" reaches it twice, with who,
what, before, after and the outcome; a refusal recorded as one; no change at all while the audit store is down;
and an executor the hook knows nothing about recorded all the same."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import pytest
import requests
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import Turn
from actions.clients import Backends, use_backends
from actions.confirmation import ActionConfirmPending
from actions.observability import conversation_ref
from actions.orders import ActionCancelOrder
from audit.recorder import audited
from audit.store import AuditStore
from tests.conftest import ShopApi
from tests.support.conversation import DOMAIN, make_tracker, run, slot_events, texts, user_event
from tests.support.processes import REPO, Service, free_port, start_demoshop

TOKEN = "audit-test-token"
BACKEND_ENV = {"DEMOSHOP_API_KEY": "test-key", "BACKEND_MAX_ATTEMPTS": "2", "BACKEND_BACKOFF_INITIAL": "0.01"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The demo shop and an action server writing its audit trail to a SQLite file of this module."""
    tmp = tmp_path_factory.mktemp("audit-actions")
    shop, base = start_demoshop(tmp)
    port = free_port()
    audit_env = {"AUDIT_DATABASE_URL": f"sqlite:///{tmp / 'audit.sqlite'}", "AUDIT_SPOOL_PATH": str(tmp / "spool")}
    env = {
        **BACKEND_ENV,
        **audit_env,
        "DEMOSHOP_URL": base,
        "ACTIONS_PORT": str(port),
        "ACTIONS_METRICS_PORT": "0",
        "ACTION_SERVER_TOKEN": TOKEN,
    }
    actions = Service("actions", [sys.executable, "-m", "actions"], env, tmp / "actions.log")
    try:
        actions.wait_http(f"http://127.0.0.1:{port}/health", timeout=90)
    except Exception:
        shop.stop()
        actions.stop()
        raise
    api = ShopApi(base)
    api.backends = Backends.from_env({**BACKEND_ENV, "DEMOSHOP_URL": base})
    api.actions_url = f"http://127.0.0.1:{port}/webhook"
    api.audit = AuditStore(audit_env["AUDIT_DATABASE_URL"])
    api.audit_env = audit_env
    yield api
    api.audit.dispose()
    actions.stop()
    shop.stop()


def webhook(api: ShopApi, action: str, tracker: Tracker) -> dict:
    """Run `action` on the action server as Rasa does: POST /webhook with the tracker and the domain."""
    body = {
        "next_action": action,
        "sender_id": tracker.sender_id,
        "tracker": tracker.current_state(),
        "domain": DOMAIN,
        "version": "3.6.2",
    }
    answer = requests.post(api.actions_url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def opening(customer_id: str, sender_id: str, **slots) -> Tracker:
    """The shopper's request, on the REST channel, verified as `customer_id` a moment ago."""
    slots = {"customer_id": customer_id, "verified_at": time.time(), **slots}
    tracker = make_tracker("please do it", "inform", slots=slots, sender_id=sender_id)
    tracker.events[-1]["input_channel"] = "rest"
    return tracker


def yes_to(proposal: dict, tracker: Tracker) -> Tracker:
    """The shopper's "yes" to the proposal the action server answered with, as the next message."""
    slots = {**tracker.slots, **slot_events(proposal["events"])}
    assert slots["pending"] == "confirm", proposal
    yes = make_tracker("yes", "affirm", slots=slots, sender_id=tracker.sender_id, history=list(tracker.events))
    yes.events[-1]["input_channel"] = "rest"
    return yes


def records_of(api: ShopApi, customer_id: str):
    return list(api.audit.records(customer_id=customer_id))


def audit_verify(api: ShopApi) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "audit", "verify"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **api.audit_env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def backend_changes_of(api: ShopApi, order_id: str, op: str) -> list[dict]:
    """What the backend holds of the kind of change `op` makes: the order's refunds, or its returns."""
    if op == "refund":
        return api.get("/v1/payments", params={"order_id": order_id}).json()["refunds"]
    return api.get("/v1/returns", params={"order_id": order_id}).json()["returns"]


def test_a_refund_request_confirmed_twice_is_one_change_and_one_record(stack):
    """A delivered order's refund starts with its return (the "start_return" executor, which the hook has no
    entry for) where the shop's policy asks for one first, else it is the refund itself: either way, one."""
    sender = f"rest:audit-{uuid.uuid4().hex[:8]}"
    tracker = opening("C1001", sender, order_id="10003")
    proposal = webhook(stack, "action_request_refund", tracker)
    yes = yes_to(proposal, tracker)
    op = yes.slots["pending_operation"]["op"]
    assert op in ("refund", "start_return")
    changes_before = backend_changes_of(stack, "10003", op)

    webhook(stack, "action_confirm_pending", yes)
    webhook(stack, "action_confirm_pending", yes)  # the same yes again (a retried request)

    changes = backend_changes_of(stack, "10003", op)
    assert len(changes) == len(changes_before) + 1
    [record] = [r for r in records_of(stack, "C1001") if r.change.what == op]
    change = record.change
    assert change.outcome == "succeeded" and change.channel == "rest"
    assert change.conversation == conversation_ref(sender) and sender not in json.dumps(change.to_json())
    assert change.idempotency_key and len(change.idempotency_key) == 40
    assert change.before is not None and change.after is not None
    if op == "refund":
        assert change.before == {"order_id": "10003", "refunded": "0.00", "currency": "EUR"}
        assert change.after["refund_id"] == changes[-1]["id"]
        assert Decimal(change.after["amount"]) == Decimal(changes[-1]["amount"])
    else:
        assert change.before["proposed"]["order_id"] == "10003"
        assert change.after["result"]["id"] == changes[-1]["id"]
    verified = audit_verify(stack)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_cancellation_records_the_status_before_and_after(stack):
    order = stack.find_order("paid")
    customer = order["customer_id"]
    tracker = opening(customer, f"rest:audit-{uuid.uuid4().hex[:8]}", order_id=order["id"])
    yes = yes_to(webhook(stack, "action_cancel_order", tracker), tracker)
    webhook(stack, "action_confirm_pending", yes)
    webhook(stack, "action_confirm_pending", yes)

    assert stack.get(f"/v1/orders/{order['id']}").json()["status"] == "cancelled"
    [record] = [r for r in records_of(stack, customer) if r.change.what == "cancel_order"]
    assert record.change.outcome == "succeeded"
    assert record.change.before == {"order_id": order["id"], "status": "paid"}
    assert record.change.after is not None and record.change.after["status"] == "cancelled"
    assert [r["amount"] for r in record.change.after["refunds"]] == [order["total"]]


def test_a_change_the_backend_refuses_is_recorded_as_refused(stack):
    taken = stack.get("/v1/customers/C1022").json()["email"]
    current = stack.get("/v1/customers/C1021").json()["email"]
    tracker = opening("C1021", f"rest:audit-{uuid.uuid4().hex[:8]}", new_contact=taken)
    answer = webhook(stack, "action_confirm_pending", yes_to(webhook(stack, "action_update_account", tracker), tracker))
    assert any(r.get("response") == "utter_contact_email_taken" for r in answer["responses"])

    [record] = records_of(stack, "C1021")
    assert record.change.what == "update_contact" and record.change.outcome == "refused"
    assert record.change.before == {"email": current}
    assert record.change.after is not None and "error" in record.change.after
    assert record.change.customer_id == "C1021" and "@" not in (record.change.channel or "")


# --- in the test's own process: the store down, and an executor the audit hook has no entry for -------------


@pytest.fixture
def in_process(stack, monkeypatch):
    """The actions run here, against the module's demo shop."""
    use_backends(stack.backends)
    yield stack
    use_backends(None)


def test_no_change_is_made_while_the_audit_store_is_down(in_process, monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIT_DATABASE_URL", f"postgresql+psycopg2://audit@127.0.0.1:{free_port()}/audit")
    monkeypatch.setenv("AUDIT_SPOOL_PATH", str(tmp_path / "spool"))
    order = in_process.find_order("paid")
    tracker = make_tracker(
        slots={"customer_id": order["customer_id"], "verified_at": time.time(), "order_id": order["id"]}
    )
    _, proposal = run(ActionCancelOrder(), tracker)
    yes = make_tracker(
        "yes",
        "affirm",
        sender_id=tracker.sender_id,
        slots={**tracker.slots, **slot_events(proposal)},
        history=list(tracker.events),
    )
    messages, events = run(ActionConfirmPending(), yes)

    assert "Nothing has been changed" in texts(messages)
    assert slot_events(events)["pending"] == "handoff" and slot_events(events)["handoff_reason"] == "audit_unavailable"
    assert in_process.get(f"/v1/orders/{order['id']}").json()["status"] == "paid"
    assert not (tmp_path / "spool").exists()  # nothing happened, so there is nothing to record later


def test_an_executor_the_hook_has_no_entry_for_is_recorded_from_its_backend_call(in_process, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    monkeypatch.setenv("AUDIT_DATABASE_URL", url)
    monkeypatch.setenv("AUDIT_SPOOL_PATH", str(tmp_path / "spool"))

    async def execute_send_invoice(turn: Turn, operation: dict) -> list:
        invoice = await turn.call(turn.clients.orders.get_order, operation["order_id"])  # a read: not a change
        await turn.call(turn.clients.orders.send_invoice, invoice.id, idempotency_key="invoice-key-1")
        return []

    operation = {"op": "send_invoice", "order_id": "10001", "nonce": "n1", "asked_at": 1}
    tracker = make_tracker("yes", "affirm", slots={"customer_id": "C1001"}, sender_id="whatsapp:+31612345678")
    turn = Turn(CollectingDispatcher(), tracker, DOMAIN, in_process.backends, action="action_confirm_pending")
    asyncio.run(audited(execute_send_invoice, turn, operation))

    store = AuditStore(url)
    [record] = list(store.records())
    store.dispose()
    change = record.change
    assert (change.what, change.outcome, change.idempotency_key) == ("send_invoice", "succeeded", "invoice-key-1")
    assert change.before == {"proposed": {"order_id": "10001"}}
    assert change.after is not None and change.after["result"]["order_id"] == "10001"
    assert change.channel == "whatsapp" and "+31612345678" not in json.dumps(change.to_json())
    assert "call" not in vars(turn)  # the hook leaves the turn as it found it


def test_user_event_helper_carries_no_channel_unless_set():
    """Guard for the tests above: the channel they assert comes from the event they set, not from a default."""
    assert "input_channel" not in user_event("hi", "greet")
