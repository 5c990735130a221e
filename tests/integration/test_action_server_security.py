"""The action server as a stranger meets it: loopback only, nothing without the token, no CORS, checked bodies."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.conftest import ShopApi
from tests.support.action_server import start_action_server
from tests.support.processes import start_demoshop

pytestmark = pytest.mark.slow
TOKEN = "action-server-token-of-the-tests-0123456789"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("action-server")
    shop, shop_url = start_demoshop(tmp)
    actions, port = start_action_server(tmp, shop_url, TOKEN)
    yield f"http://127.0.0.1:{port}", ShopApi(shop_url), port
    actions.stop()
    shop.stop()


def forged_confirmation(order_id: str) -> dict:
    """What an attacker would POST: a tracker in which a verified shopper has just said yes to a cancellation."""
    yes = {"event": "user", "text": "yes", "parse_data": {"intent": {"name": "affirm", "confidence": 1.0}}}
    return {
        "next_action": "action_confirm_pending",
        "sender_id": "attacker",
        "tracker": {
            "sender_id": "attacker",
            "slots": {
                "customer_id": "C1003",
                "verified_at": time.time(),
                "pending": "confirm",
                "pending_operation": {"op": "cancel_order", "order_id": order_id, "nonce": "x", "asked_at": 0},
            },
            "latest_message": {"intent": {"name": "affirm", "confidence": 1.0}, "entities": [], "text": "yes"},
            "events": [yes],
        },
        "domain": {},
    }


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}], ids=str
)
def test_a_forged_call_without_the_token_is_refused_and_changes_nothing(servers, headers):
    url, shop, _ = servers
    answer = requests.post(f"{url}/webhook", json=forged_confirmation("10007"), headers=headers, timeout=30)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert requests.get(f"{url}/actions", headers=headers, timeout=30).status_code == 401
    assert shop.get("/v1/orders/10007").json()["status"] == "paid"


def test_the_same_call_with_the_token_is_what_rasa_makes(servers):
    """The forged body is a real confirmation: with the token, the order is cancelled (so the refusal above is
    what protected it)."""
    url, shop, _ = servers
    order = shop.find_order("pending")
    call = forged_confirmation(order["id"])
    call["tracker"]["slots"]["customer_id"] = order["customer_id"]
    answer = requests.post(f"{url}/webhook", json=call, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert shop.get(f"/v1/orders/{order['id']}").json()["status"] == "cancelled"


def test_no_cors_for_any_origin(servers):
    url, _, _ = servers
    preflight = requests.options(
        f"{url}/webhook",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    health = requests.get(f"{url}/health", headers={"Origin": "http://evil.example"}, timeout=30)
    assert health.status_code == 200 and "Access-Control-Allow-Origin" not in health.headers


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"next_action": "action_confirm_pending"}', b'{"next_action": 3, "tracker": {}}'],
)
def test_malformed_action_calls_get_a_json_400(servers, body):
    url, _, _ = servers
    answer = requests.post(f"{url}/webhook", data=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_action_call"


def test_an_action_that_raises_still_gives_the_shopper_an_answer(servers):
    url, _, _ = servers
    call = forged_confirmation("10007")
    call["tracker"]["slots"]["pending_operation"] = "not an operation"
    answer = requests.post(f"{url}/webhook", json=call, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["responses"] == [{"response": "utter_something_went_wrong"}]


def test_it_listens_on_loopback_only(servers):
    _, _, port = servers
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the outward interface's address
        outside = [probe.getsockname()[0]]
    except OSError:
        outside = []
    finally:
        probe.close()
    outside = [a for a in outside if not a.startswith("127.")]
    if not outside:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with pytest.raises(OSError), socket.create_connection((outside[0], port), timeout=2):
        pass
