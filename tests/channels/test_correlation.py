"""Slack, Teams and WhatsApp give each message its correlation id: the platform's valid `X-Request-ID`, else a new
one, stored with the message in the tracker (where the action server reads it) while the turn runs after the
webhook has answered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import requests

from foundation import correlation
from tests.channels import test_slack, test_teams, test_whatsapp
from tests.channels.conftest import Channels


def user_events(channels: Channels, conversation: str, ready: Callable[[list[dict]], bool]) -> list[dict]:
    """The conversation's user events once `ready` accepts them: Rasa sends the replies before it saves the turn."""
    deadline = time.monotonic() + 30
    while True:
        answer = requests.get(f"{channels.stack.rasa_url}/conversations/{conversation}/tracker", timeout=30)
        answer.raise_for_status()
        events = [e for e in answer.json()["events"] if e["event"] == "user"]
        if ready(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def slack_message(channels: Channels, headers: dict[str, str]) -> Callable[[], str]:
    """Send a Slack DM from a user of its own; returns how to wait for the reply, which gives the conversation id."""
    user, channel = f"U0C{uuid.uuid4().hex[:8].upper()}", test_slack.new_channel()
    answer = test_slack.post(channels, test_slack.message_event("hi", channel=channel, user=user), headers=headers)
    assert answer.status_code == 200, answer.text

    def replied() -> str:
        test_slack.wait_reply(channels, channel)
        return f"slack:{user}"

    return replied


def teams_message(channels: Channels, headers: dict[str, str]) -> Callable[[], str]:
    conversation = test_teams.new_conversation()
    shopper = {"id": f"29:1C{uuid.uuid4().hex[:12]}", "name": "Anna Bakker"}  # a conversation of its own
    body = test_teams.activity(channels, "hi", conversation, **{"from": shopper})
    answer = requests.post(
        f"{channels.stack.rasa_url}/webhooks/teams/webhook",
        json=body,
        headers={"Authorization": f"Bearer {channels.teams_token()}", **headers},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text

    def replied() -> str:
        path = f"/teams/v3/conversations/{conversation}/activities"
        channels.microsoft.wait_for(lambda r: r.path == path)
        return f"teams:{body['from']['id']}"

    return replied


def whatsapp_message(channels: Channels, headers: dict[str, str]) -> Callable[[], str]:
    number = test_whatsapp.new_number()
    params = test_whatsapp.inbound("hi", number)
    answer = requests.post(
        f"{channels.stack.rasa_url}/webhooks/whatsapp/webhook",
        data=params,
        headers={"X-Twilio-Signature": test_whatsapp.sign(test_whatsapp.TWILIO_PUBLIC_URL, params), **headers},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text

    def replied() -> str:
        channels.twilio.wait_for(lambda r: r.path == test_whatsapp.MESSAGES and r.form().get("To") == number)
        return number

    return replied


SENDERS = {"slack": slack_message, "teams": teams_message, "whatsapp": whatsapp_message}


@pytest.mark.parametrize("channel", sorted(SENDERS))
def test_the_platforms_request_id_is_the_messages_correlation_id(channels, channel):
    sent = f"{channel}-{uuid.uuid4().hex}"
    conversation = SENDERS[channel](channels, {"X-Request-ID": sent})()
    (only,) = user_events(channels, conversation, lambda found: bool(found))
    assert only["metadata"]["correlation_id"] == sent


@pytest.mark.parametrize("channel", sorted(SENDERS))
def test_a_message_without_a_usable_request_id_gets_a_new_one(channels, channel):
    conversation = SENDERS[channel](channels, {"X-Request-ID": "bad id"})()
    (only,) = user_events(channels, conversation, lambda found: bool(found))
    given = only["metadata"].get("correlation_id")
    assert correlation.valid(given) and given != "bad id"
