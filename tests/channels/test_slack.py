"""Slack Events API through the real Rasa server: signed `event_callback` payloads, replies to the stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import requests

from tests.channels.conftest import SLACK_BOT_USER, SLACK_SECRET, SLACK_TOKEN, Channels, is_greeting


def message_event(text: str, *, channel: str, user: str = "U0SHOPPER1", **event_fields: Any) -> dict[str, Any]:
    """A direct message to the app, shaped like Slack's Events API delivery."""
    ts = f"{time.time():.6f}"
    event = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "x1",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "team": "T0LARKSPUR",
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
        **event_fields,
    }
    return {
        "token": "legacy-verification-token",
        "team_id": "T0LARKSPUR",
        "context_team_id": "T0LARKSPUR",
        "api_app_id": "A0LARKSPUR",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0LARKSPUR",
                "user_id": SLACK_BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    }


def post(
    channels: Channels | None,
    payload: dict[str, Any],
    *,
    secret: str = SLACK_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    server: str | None = None,
) -> requests.Response:
    """The payload signed as Slack signs it, posted to the stack's Rasa server (or to `server`)."""
    body = json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return requests.post(
        f"{server or channels.stack.rasa_url}/webhooks/slack/webhook",
        data=body,
        timeout=30,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        },
    )


def replies_in(channels: Channels, channel: str):
    return channels.slack.received(lambda r: r.path == "/api/chat.postMessage" and r.json().get("channel") == channel)


def wait_reply(channels: Channels, channel: str, count: int = 1):
    return channels.slack.wait_for(
        lambda r: r.path == "/api/chat.postMessage" and r.json().get("channel") == channel, count
    )


def new_channel() -> str:
    return f"D{uuid.uuid4().hex[:9].upper()}"


def test_hi_gets_the_greeting_in_the_same_dm(channels):
    channel = new_channel()
    answer = post(channels, message_event("hi", channel=channel))
    assert answer.status_code == 200
    reply = wait_reply(channels, channel)[0]
    assert reply.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert is_greeting(reply.json()["text"])


def test_url_verification_is_answered_when_signed(channels):
    payload = {
        "token": "legacy-verification-token",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    answer = post(channels, payload)
    assert answer.status_code == 200 and answer.json() == payload["challenge"]
    assert post(channels, payload, secret="not-the-secret").status_code == 401


def test_bad_and_stale_signatures_are_refused_and_nothing_is_sent(channels):
    channel = new_channel()
    forged = post(channels, message_event("hi", channel=channel), secret="not-the-secret")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    stale = post(channels, message_event("hi", channel=channel), timestamp=int(time.time()) - 6 * 60)
    assert stale.status_code == 401
    unsigned = requests.post(
        f"{channels.stack.rasa_url}/webhooks/slack/webhook", json=message_event("hi", channel=channel), timeout=30
    )
    assert unsigned.status_code == 401
    # a correctly signed message afterwards is answered, and is the only thing ever sent to this DM
    assert post(channels, message_event("hello", channel=channel)).status_code == 200
    wait_reply(channels, channel)
    time.sleep(1)
    assert len(replies_in(channels, channel)) == 1


def test_a_retry_of_the_same_event_gets_no_second_reply(channels):
    channel = new_channel()
    event = message_event("hi", channel=channel)
    assert post(channels, event).status_code == 200
    wait_reply(channels, channel)
    retry = post(channels, event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert retry.status_code == 200 and retry.headers.get("X-Slack-No-Retry") == "1"
    # a later, new message is the next reply: the retry produced nothing in between
    assert post(channels, message_event("hello", channel=channel)).status_code == 200
    replies = wait_reply(channels, channel, count=2)
    time.sleep(1)
    assert len(replies_in(channels, channel)) == 2
    assert is_greeting(replies[0].json()["text"])


def test_the_bots_own_messages_are_ignored(channels):
    channel = new_channel()
    own_echo = message_event("Hi! I'm the Larkspur Home assistant.", channel=channel, user=SLACK_BOT_USER)
    bot_message = message_event("Hello from a bot", channel=channel, subtype="bot_message", bot_id="B0LARKBOT")
    del bot_message["event"]["user"]
    for payload in (own_echo, bot_message):
        assert post(channels, payload).status_code == 200
    assert post(channels, message_event("hi", channel=channel)).status_code == 200
    wait_reply(channels, channel)
    time.sleep(1)
    assert len(replies_in(channels, channel)) == 1


RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}


def test_a_retry_while_the_first_delivery_is_in_progress_is_acknowledged_and_not_processed(channels):
    channel = new_channel()
    event = message_event("hi", channel=channel)
    assert post(channels, event).status_code == 200
    retry = post(channels, event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200 and retry.headers.get("X-Slack-No-Retry") == "1"
    wait_reply(channels, channel)
    time.sleep(1.5)
    assert len(replies_in(channels, channel)) == 1


def test_a_retry_whose_first_delivery_never_arrived_is_answered_exactly_once(channels):
    channel = new_channel()
    event = message_event("hi", channel=channel)  # Slack's first attempt got no answer from any replica
    first_retry = post(channels, event, headers=RETRY)
    assert first_retry.status_code == 200 and "X-Slack-No-Retry" not in first_retry.headers
    assert is_greeting(wait_reply(channels, channel)[0].json()["text"])
    second_retry = post(channels, event, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert second_retry.status_code == 200 and second_retry.headers.get("X-Slack-No-Retry") == "1"
    time.sleep(1.5)
    assert len(replies_in(channels, channel)) == 1
