"""A yes confirms only the question just asked, and a change needs a recent verification: through the REST
channel of a running Rasa server, its action server and the real demo shop."""

from __future__ import annotations

import re
import time

import pytest
import requests

from actions import customer_token
from tests.conftest import ShopApi
from tests.support.stack import new_sender, start_stack

SECRET = "e2e-customer-token-secret-0123456789"
MAX_AGE = 6  # VERIFICATION_MAX_AGE_FOR_CHANGES of this stack, in seconds


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"CUSTOMER_TOKEN_SECRET": SECRET, "VERIFICATION_MAX_AGE_FOR_CHANGES": str(MAX_AGE)}
    running = start_stack(tmp_path_factory.mktemp("safety"), env=env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def shop(stack):
    return ShopApi(stack.shop_url)


def said(messages) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def cancellable_orders(shop: ShopApi) -> list[tuple[str, str]]:
    """(customer, order) pairs of orders that can still be cancelled, one per customer."""
    found: dict[str, str] = {}
    for number in range(1001, 1041):
        customer = f"C{number}"
        for order in shop.get("/v1/orders", params={"customer_id": customer}).json()["orders"]:
            if order["status"] in ("pending", "paid") and customer not in found:
                found[customer] = order["id"]
    return list(found.items())


@pytest.mark.parametrize(
    "in_between",
    ["actually, where is my refund?", "how long does delivery take?", "I want to talk to a person"],
    ids=["new-request", "faq", "handoff"],
)
def test_a_yes_after_a_topic_switch_leaves_the_order_untouched(stack, shop, in_between):
    index = ["actually, where is my refund?", "how long does delivery take?", "I want to talk to a person"]
    customer, order = cancellable_orders(shop)[index.index(in_between)]
    sender = new_sender()
    token = {"customer_token": customer_token.issue(customer, secret=SECRET)}
    assert "Shall I cancel it?" in said(stack.say(sender, f"please cancel order {order}", metadata=token))
    stack.say(sender, in_between, metadata=token)
    answer = said(stack.say(sender, "yes please", metadata=token))
    assert shop.get(f"/v1/orders/{order}").json()["status"] in ("pending", "paid")
    assert "is cancelled" not in answer


def test_the_proposal_is_voided_and_a_yes_says_so(stack, shop):
    customer, order = cancellable_orders(shop)[3]
    sender = new_sender()
    token = {"customer_token": customer_token.issue(customer, secret=SECRET)}
    assert "Shall I cancel it?" in said(stack.say(sender, f"please cancel order {order}", metadata=token))
    stack.say(sender, "where is my refund?", metadata=token)
    answer = said(stack.say(sender, "yes", metadata=token))
    assert "I haven't changed anything" in answer
    assert shop.get(f"/v1/orders/{order}").json()["status"] in ("pending", "paid")


def test_a_cancellation_long_after_verifying_asks_for_a_new_code_first(stack, shop):
    customer, order = cancellable_orders(shop)[4]
    email = shop.get(f"/v1/customers/{customer}").json()["email"]
    sender = new_sender()
    assert "email address" in said(stack.say(sender, "where is my order?"))
    assert "6-digit code" in said(stack.say(sender, email))
    code = re.search(r"\d{6}", shop.get("/v1/outbox", params={"customer_id": customer}).json()["messages"][0]["body"])
    assert "you're verified" in said(stack.say(sender, code.group(0)))
    time.sleep(MAX_AGE + 1)
    again = said(stack.say(sender, f"please cancel order {order}"))
    assert "need to check it's still you" in again and "Shall I cancel it?" not in again
    assert "email address" in again
    assert "6-digit code" in said(stack.say(sender, email))
    code = re.search(r"\d{6}", shop.get("/v1/outbox", params={"customer_id": customer}).json()["messages"][0]["body"])
    proposal = said(stack.say(sender, code.group(0)))
    assert "Shall I cancel it?" in proposal
    assert shop.get(f"/v1/orders/{order}").json()["status"] in ("pending", "paid")
    assert "is cancelled" in said(stack.say(sender, "yes please"))
    assert shop.get(f"/v1/orders/{order}").json()["status"] == "cancelled"


def test_a_verified_identity_expires_with_the_idle_session(stack):
    """Two hours after the shopper's last message their verification is gone (domain.yml's session_config)."""
    sender = new_sender()
    conversation = f"rest:{sender}"
    long_ago = time.time() - 2 * 3600
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": long_ago},
        {"event": "session_started", "timestamp": long_ago},
        {"event": "action", "name": "action_listen", "timestamp": long_ago},
        {"event": "slot", "name": "customer_id", "value": "C1001", "timestamp": long_ago},
        {"event": "slot", "name": "verified_at", "value": long_ago, "timestamp": long_ago},
        {
            "event": "user",
            "text": "thanks",
            "parse_data": {"intent": {"name": "thank", "confidence": 1}},
            "timestamp": long_ago,
        },
    ]
    requests.post(f"{stack.rasa_url}/conversations/{conversation}/tracker/events", json=events, timeout=30)
    slots = requests.get(f"{stack.rasa_url}/conversations/{conversation}/tracker", timeout=30).json()["slots"]
    assert slots["customer_id"] == "C1001"  # verified, as the conversation was two hours ago
    answer = said(stack.say(sender, "where is my order 10001?"))
    assert "email address" in answer and "10001 is" not in answer
    slots = requests.get(f"{stack.rasa_url}/conversations/{conversation}/tracker", timeout=30).json()["slots"]
    assert slots["customer_id"] is None
