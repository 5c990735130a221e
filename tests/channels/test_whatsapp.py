"""WhatsApp through Twilio against the real Rasa server: signed inbound webhooks (as Twilio sends them) and
replies through the Twilio Messages API stand-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time

import pytest
import requests

from actions import customer_token
from tests.channels.conftest import (
    CUSTOMER_TOKEN_SECRET,
    TWILIO_NUMBER,
    TWILIO_PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    Channels,
    is_greeting,
)

MESSAGES = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def sign(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name/value pairs))."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def new_number() -> str:
    return f"whatsapp:+3161{random.randint(1000000, 9999999)}"


def inbound(text: str | None, sender: str | None, **fields: str) -> dict[str, str]:
    """The form fields of Twilio's incoming-WhatsApp-message webhook."""
    sid = "SM" + "".join(random.choice("0123456789abcdef") for _ in range(32))
    params = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Anna",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": (sender or "whatsapp:+0").split("+")[-1],
        "SmsStatus": "received",
        "Body": text or "",
        "To": TWILIO_NUMBER,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": sender or "",
        "ApiVersion": "2010-04-01",
        **fields,
    }
    if text is None:
        del params["Body"]
    if sender is None:
        del params["From"]
    return params


def post(channels: Channels, params: dict[str, str], signature: str | None = None) -> requests.Response:
    signature = sign(TWILIO_PUBLIC_URL, params) if signature is None else signature
    return requests.post(
        f"{channels.stack.rasa_url}/webhooks/whatsapp/webhook",
        data=params,
        timeout=60,
        headers={"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": "idem-1"},
    )


def replies_to(channels: Channels, number: str):
    return channels.twilio.received(lambda r: r.path == MESSAGES and r.form().get("To") == number)


def test_hi_is_answered_through_the_messages_api(channels):
    number = new_number()
    answer = post(channels, inbound("hi", number))
    assert answer.status_code == 200 and "<Response>" in answer.text
    reply = channels.twilio.wait_for(lambda r: r.path == MESSAGES and r.form().get("To") == number)[0]
    form = reply.form()
    assert form["From"] == TWILIO_NUMBER and is_greeting(form["Body"])
    assert (
        reply.headers["authorization"] == "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    )


def test_bad_signatures_are_refused_with_403(channels):
    number = new_number()
    params = inbound("hi", number)
    assert post(channels, params, signature="").status_code == 403
    forged = post(channels, params, signature=sign(TWILIO_PUBLIC_URL, params, token="not-the-token"))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "invalid_signature"
    tampered = dict(params, Body="cancel order 10001")
    assert post(channels, tampered, signature=sign(TWILIO_PUBLIC_URL, params)).status_code == 403
    # signed for the address the request arrived on, not the configured public URL (TWILIO_WEBHOOK_URL)
    local = f"{channels.stack.rasa_url}/webhooks/whatsapp/webhook"
    assert post(channels, params, signature=sign(local, params)).status_code == 403
    time.sleep(0.5)
    assert replies_to(channels, number) == []


@pytest.mark.parametrize(
    "params",
    [
        inbound(None, "whatsapp:+31612345678"),
        inbound("hi", None),
        inbound("hi", "+31612345678"),
        inbound("hi", "whatsapp:+31 6 1234 5678"),
        inbound("hi", "whatsapp:+3161234abcd"),
        inbound("hi", "whatsapp:+31612345678", MessageSid="SM123"),
        inbound("hi", "whatsapp:+31612345678", AccountSid="AC" + "f" * 32),
    ],
    ids=[
        "no Body",
        "no From",
        "From without whatsapp:",
        "From with blanks",
        "From with letters",
        "short MessageSid",
        "other account",
    ],
)
def test_missing_or_malformed_fields_are_refused_with_400(channels, params):
    answer = post(channels, params)  # correctly signed
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


def test_a_customers_phone_number_does_not_reveal_their_order(channels):
    shop = requests.Session()
    shop.headers["Authorization"] = "Bearer test-key"
    order = shop.get(f"{channels.stack.shop_url}/v1/orders/10001", timeout=10).json()
    customer = shop.get(f"{channels.stack.shop_url}/v1/customers/{order['customer_id']}", timeout=10).json()
    number = "whatsapp:" + customer["phone"].replace(" ", "")
    # a valid customer token and verification fields smuggled into the form change nothing either
    smuggled = {
        "customer_token": customer_token.issue(customer["id"], secret=CUSTOMER_TOKEN_SECRET),
        "customer_id": customer["id"],
        "verified": "true",
    }
    assert post(channels, inbound("where is my order 10001", number, **smuggled)).status_code == 200
    channels.twilio.wait_for(
        lambda r: (
            r.path == MESSAGES
            and r.form().get("To") == number
            and "email address on your Larkspur account" in r.form()["Body"]
        )
    )
    time.sleep(1)
    said = "\n".join(r.form()["Body"] for r in replies_to(channels, number))
    assert order["status"] not in said.lower() and "Tracking number" not in said
    for item in order.get("items", []):
        assert item.get("name", "\0") not in said
