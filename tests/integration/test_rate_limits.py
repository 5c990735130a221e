"""The abuse limits on the real servers: a running Rasa server answers the request over an address's limit with
429, Retry-After and the JSON error shape; the action server sends no 4th one-time code to one address."""

from __future__ import annotations

import http.client
import json
import secrets

import pytest
import requests

from actions.clients import Backends, use_backends
from actions.service_form import ValidateServiceForm
from rasa_runtime.rate_limit_middleware import SLOW_DOWN_FALLBACK
from tests.conftest import ShopApi
from tests.support.conversation import DOMAIN, make_tracker, run, slot_events, texts
from tests.support.processes import start_demoshop
from tests.support.stack import MODEL, start_stack

EMAIL = "anna.bakker@example.com"  # the seeded customer C1001
PER_ADDRESS = 20
PER_SENDER = 3  # a conversation of the address test sends 2
ORIGIN = "http://shop.example"
CODE_SENT = "I've just sent a 6-digit code"
LIMITS_ON = {"RATE_LIMITS": "on", "RATE_LIMIT_CODES_PER_ADDRESS": "3/15 minutes;10/day"}


def codes_sent(shop: ShopApi) -> int:
    return len(shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"])


def request_from(address: str, url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, object]:
    """A request from a given loopback source address (127.0.0.2 is another client than 127.0.0.1)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(address, 0))
    try:
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, payload, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def post_from(address: str, url: str, body: dict) -> tuple[int, dict, object]:
    """A message to the REST webhook from a given loopback source address."""
    return request_from(address, url, "POST", "/webhooks/rest/webhook", body)


@pytest.fixture(scope="module")
def form_shop(tmp_path_factory):
    service, base = start_demoshop(tmp_path_factory.mktemp("limits-shop"))
    shop = ShopApi(base)
    use_backends(Backends.from_env({"DEMOSHOP_URL": base, "DEMOSHOP_API_KEY": "test-key"}))
    yield shop
    use_backends(None)
    service.stop()


def test_the_fourth_code_to_one_address_is_not_sent_and_the_shopper_hears_when_to_try_again(form_shop, monkeypatch):
    for variable, value in LIMITS_ON.items():
        monkeypatch.setenv(variable, value)
    before = codes_sent(form_shop)
    answers = []
    for _ in range(4):  # four conversations, so that no conversation's own state stops the fourth
        messages, events = run(
            ValidateServiceForm(),
            make_tracker(
                EMAIL,
                slots={"goal": "refund_status", "requested_slot": "login_email"},
                active_loop="service_form",
                sender_id=f"rest:{secrets.token_urlsafe(24)}",
            ),
        )
        answers.append((texts(messages), slot_events(events)))
    assert codes_sent(form_shop) == before + 3
    assert all(CODE_SENT in said for said, _ in answers[:3])
    said, slots = answers[3]
    assert CODE_SENT not in said and "try again in 15 minutes" in said
    # The check stops until then: the form ends (a person is offered next) and the email will be asked again.
    assert slots["login_email"] is None and slots["verification"]["failed"] and slots["requested_slot"] is None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.skip("needs a trained model: make test trains it first")
    running = start_stack(
        tmp_path_factory.mktemp("limits-stack"),
        env=LIMITS_ON,
        rasa_env={
            "RATE_LIMITS": "on",
            "RATE_LIMIT_PER_ADDRESS": f"{PER_ADDRESS}/minute",
            "RATE_LIMIT_PER_SENDER": f"{PER_SENDER}/minute",
        },
        rasa_args=("--cors", ORIGIN),
    )
    yield running
    running.stop()


def test_a_running_stack_sends_three_codes_to_one_address_then_refuses_the_address_over_its_limit(stack):
    shop = ShopApi(stack.shop_url)
    before = codes_sent(shop)
    used = 0
    replies = []
    for _ in range(4):  # four shoppers' conversations asking for a code to the same address
        sender = secrets.token_urlsafe(24)
        stack.say(sender, "where is my refund?")
        replies.append("\n".join(m.get("text", "") for m in stack.say(sender, EMAIL)))
        used += 2
    assert codes_sent(shop) == before + 3
    assert all(CODE_SENT in reply for reply in replies[:3]) and CODE_SENT not in replies[3]

    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    for _ in range(PER_ADDRESS - used):
        assert requests.post(url, json={"sender": secrets.token_urlsafe(24), "message": "hi"}, timeout=60).ok
    refused = requests.post(
        url, json={"sender": secrets.token_urlsafe(24), "message": "hi"}, headers={"Origin": ORIGIN}, timeout=60
    )
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited" and refused.json()["error"]["message"]
    assert refused.headers.get("Access-Control-Allow-Origin") == ORIGIN  # the web chat can read the answer
    # The HTTP API is limited too; the health route is not; another address is served.
    api = requests.get(f"{stack.rasa_url}/domain", headers={"Accept": "application/json"}, timeout=30)
    assert api.status_code == 429 and "Retry-After" in api.headers
    assert requests.get(f"{stack.rasa_url}/status", timeout=30).status_code == 200
    status, _, body = post_from("127.0.0.2", stack.rasa_url, {"sender": secrets.token_urlsafe(24), "message": "hi"})
    assert status == 200 and isinstance(body, list)


def test_a_rest_sender_over_its_limit_gets_429_with_the_polite_message_and_its_message_is_not_handled(stack):
    sender = secrets.token_urlsafe(24)
    for _ in range(PER_SENDER):
        status, _, body = post_from("127.0.0.2", stack.rasa_url, {"sender": sender, "message": "where is my order?"})
        assert status == 200 and body
    status, headers, body = post_from("127.0.0.2", stack.rasa_url, {"sender": sender, "message": "where is my order?"})
    assert status == 429 and 1 <= int(headers["retry-after"]) <= 60
    assert body["error"]["code"] == "rate_limited"
    # The domain's words; a model trained before utter_slow_down existed gets the built-in sentence.
    assert body["messages"][0]["text"] in {DOMAIN["responses"]["utter_slow_down"][0]["text"], SLOW_DOWN_FALLBACK}
    status, _, tracker = request_from("127.0.0.2", stack.rasa_url, "GET", f"/conversations/rest:{sender}/tracker")
    assert status == 200
    said = [event["text"] for event in tracker["events"] if event["event"] == "user"]
    assert said == ["where is my order?"] * PER_SENDER  # the refused message was not handled
