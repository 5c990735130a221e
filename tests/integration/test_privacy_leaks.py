"""Known personal data planted in a real conversation, then searched for in every place it can reach.

A shopper verifies with a one-time code, types a phone number, a street address and a card number, and asks
for a person, through the REST channel of a real stack (demo shop, action server, Rasa with its SQL event
broker) logging as served (INFO). Then every sink is read as its bytes: each process's log file, the tracker
store, the event broker, the helpdesk ticket and the /metrics of Rasa and of the action server. Each may
hold only what docs/privacy.md allows it:

- nothing holds the one-time code or the card number;
- logs and metrics hold none of it (nor the email, phone or address);
- the tracker store, the event broker and the ticket's transcript keep what the shopper wrote otherwise.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import requests

from foundation.processes import free_port
from tests.conftest import ShopApi
from tests.support.stack import new_sender, start_stack

pytestmark = pytest.mark.slow

PHONE = "+31 6 1234 5678"
ADDRESS = "Keizersgracht 123, 1015 CJ Amsterdam"
CARD = "4242 4242 4242 4242"
SERVED = {"LOG_LEVEL": "INFO", "CONVERSATION_REF_SECRET": "leak-test-conversation-ref-secret"}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaks")
    actions_metrics = free_port()
    backend_env = {**SERVED, "ACTIONS_METRICS_PORT": str(actions_metrics)}
    stack = start_stack(tmp, env=backend_env, rasa_env=SERVED, event_broker_db=tmp / "events.sqlite")
    try:
        shop = ShopApi(stack.shop_url)
        email = shop.get("/v1/customers/C1001").json()["email"]
        sender = new_sender()
        replies = [stack.say(sender, "where is my refund?"), stack.say(sender, email)]
        outbox = shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"][0]
        code = re.search(r"\d{6}", outbox["body"]).group(0)
        replies.append(stack.say(sender, code))
        replies.append(stack.say(sender, f"you can call me on {PHONE}"))
        replies.append(stack.say(sender, f"I live at {ADDRESS}"))
        replies.append(stack.say(sender, f"I paid with my card {CARD}"))
        handoff = "\n".join(m.get("text", "") for m in stack.say(sender, "I want to talk to a real person please"))
        ticket_id = re.search(r"ticket #(\d+)", handoff).group(1)
        ticket = shop.get(f"/v1/tickets/{ticket_id}").text
        actions_metrics_url = f"http://127.0.0.1:{actions_metrics}/metrics"
        metrics = "\n".join(requests.get(url, timeout=30).text for url in (stack.rasa_metrics_url, actions_metrics_url))
    finally:
        stack.stop()
    yield {
        "tmp": tmp,
        "replies": replies,
        "secrets": {"code": code, "card": CARD},
        "personal": {"email": email, "phone": PHONE, "address": ADDRESS},
        "ticket": ticket,
        "metrics": metrics,
    }


def variants(value: str) -> list[str]:
    """A value as it may be written: as typed, without spaces, in lower case."""
    return sorted({value, value.replace(" ", ""), value.lower()})


def holds(text: str, value: str) -> bool:
    return any(variant in text for variant in variants(value)) or (
        value.isdigit() and re.search(rf"(?<!\d){value}(?!\d)", text) is not None
    )


def stored(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "\n".join(data for (data,) in connection.execute("SELECT data FROM events"))


def test_the_conversation_went_through_verification_and_the_handoff(planted):
    assert all(planted["replies"]), planted["replies"]
    assert "verified" in "\n".join(m.get("text", "") for m in planted["replies"][2])
    assert '"transcript"' in planted["ticket"]


def test_no_log_line_of_any_process_holds_any_of_it(planted):
    logs = {path.name: path.read_text(errors="replace") for path in planted["tmp"].glob("*.log")}
    assert {"rasa.log", "actions.log"} <= set(logs) and any(name.startswith("demoshop") for name in logs)
    for name, text in logs.items():
        for kind, value in {**planted["secrets"], **planted["personal"]}.items():
            assert not holds(text, value), f"the {kind} is in {name}"


def test_the_metrics_hold_none_of_it(planted):
    assert "assistant_messages_received_total" in planted["metrics"]
    for kind, value in {**planted["secrets"], **planted["personal"]}.items():
        assert not holds(planted["metrics"], value), f"the {kind} is in the metrics"


def test_the_stores_and_the_ticket_keep_the_conversation_but_never_the_code_or_the_card(planted):
    tmp = planted["tmp"]
    sinks = {"tracker store": stored(tmp / "tracker.sqlite"), "event broker": stored(tmp / "events.sqlite")}
    sinks["ticket"] = planted["ticket"]
    for sink, text in sinks.items():
        for kind, value in planted["secrets"].items():
            assert not holds(text, value), f"the {kind} is in the {sink}"
    for sink in ("tracker store", "event broker"):
        assert holds(sinks[sink], PHONE) and holds(sinks[sink], ADDRESS), f"the {sink} lost what the shopper wrote"
