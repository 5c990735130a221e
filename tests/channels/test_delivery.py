"""Replies that the platform's API refuses (500, 429) or cannot be reached for, through the real Rasa server: the
webhook still answers 2xx at once, the reply is retried until it arrives, each failed attempt is one JSON log line
without the text or the shopper's id, and a 4xx other than 429 is not retried."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from foundation.processes import free_port
from tests.channels import standins, test_slack, test_teams, test_whatsapp
from tests.channels.conftest import Channels, is_greeting
from tests.channels.standins import Recorded, StandIn

FAILED = "channel send failed"
UNDELIVERED = "channel reply not delivered"


@dataclass
class Conversation:
    """One new shopper on one platform: how to say "hi", where the replies land, and Rasa's conversation id."""

    rasa_id: str
    say_hi: Callable[[], requests.Response]
    api: StandIn
    is_reply: Callable[[Recorded], bool]
    text_of: Callable[[Recorded], str]
    raw_id: str  # what must never appear in a log line (a Slack or Teams user id, a phone number)


def slack(channels: Channels) -> Conversation:
    channel, user = test_slack.new_channel(), f"U{uuid.uuid4().hex[:9].upper()}"
    return Conversation(
        rasa_id=f"slack:{user}",
        say_hi=lambda: test_slack.post(channels, test_slack.message_event("hi", channel=channel, user=user)),
        api=channels.slack,
        is_reply=lambda r: r.path == "/api/chat.postMessage" and r.json().get("channel") == channel,
        text_of=lambda r: r.json()["text"],
        raw_id=user,
    )


def teams(channels: Channels, service_url: str | None = None) -> Conversation:
    conversation, user = test_teams.new_conversation(), f"29:1{uuid.uuid4().hex}"
    service_url = service_url or channels.service_url
    body = test_teams.activity(channels, "hi", conversation, serviceUrl=service_url)
    body["from"] = {"id": user, "name": "Anna Bakker"}
    path = f"/teams/v3/conversations/{conversation}/activities"
    return Conversation(
        rasa_id=f"teams:{user}",
        say_hi=lambda: test_teams.post(channels, body, channels.teams_token(service_url=service_url)),
        api=channels.microsoft,
        is_reply=lambda r: r.method == "POST" and r.path == path,
        text_of=lambda r: r.json()["text"],
        raw_id=user,
    )


def whatsapp(channels: Channels) -> Conversation:
    number = test_whatsapp.new_number()
    return Conversation(
        rasa_id=number,
        say_hi=lambda: test_whatsapp.post(channels, test_whatsapp.inbound("hi", number)),
        api=channels.twilio,
        is_reply=lambda r: r.path == test_whatsapp.MESSAGES and r.form().get("To") == number,
        text_of=lambda r: r.form()["Body"],
        raw_id=number.removeprefix("whatsapp:+"),
    )


PLATFORMS = {"slack": slack, "teams": teams, "whatsapp": whatsapp}


def assert_logs_name_no_one(channels: Channels, shopper: Conversation, message: str) -> list[dict]:
    lines = channels.log_lines(message, shopper.rasa_id)
    for line in lines:
        text = str(line)
        assert shopper.raw_id not in text and "Larkspur" not in text  # neither the shopper nor the reply's text
    return lines


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_reply_refused_with_500_twice_is_retried_until_it_arrives(channels, platform):
    shopper = PLATFORMS[platform](channels)
    shopper.api.fail_next(shopper.is_reply, 500, count=2)
    answer = shopper.say_hi()
    assert 200 <= answer.status_code < 300
    sent = shopper.api.wait_for(shopper.is_reply, count=3)
    assert sent[0].body == sent[1].body == sent[2].body  # the same reply, three times: two refused, one accepted
    assert is_greeting(shopper.text_of(sent[2]))
    failed = channels.wait_log(FAILED, shopper.rasa_id, count=2)
    assert [(line["attempt"], line["status"], line["channel"]) for line in failed] == [
        (1, 500, platform),
        (2, 500, platform),
    ]
    assert all(line["level"] == "WARNING" for line in failed)
    assert_logs_name_no_one(channels, shopper, FAILED)
    assert channels.log_lines(UNDELIVERED, shopper.rasa_id) == []


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_429_is_retried_no_sooner_than_its_retry_after(channels, platform):
    shopper = PLATFORMS[platform](channels)
    shopper.api.fail_next(shopper.is_reply, 429, count=1, headers={"Retry-After": "2"})
    assert 200 <= shopper.say_hi().status_code < 300
    sent = shopper.api.wait_for(shopper.is_reply, count=2)
    assert sent[0].body == sent[1].body and is_greeting(shopper.text_of(sent[1]))
    assert sent[1].at - sent[0].at >= 2.0  # the test server's backoff is at most 1 s: only Retry-After waits this long
    [failed] = channels.wait_log(FAILED, shopper.rasa_id)
    assert failed["status"] == 429 and failed["attempt"] == 1


@pytest.mark.parametrize("platform", ["slack", "whatsapp"])
def test_a_reply_to_an_api_that_refuses_connections_arrives_when_it_is_back(channels, platform):
    shopper = PLATFORMS[platform](channels)
    shopper.api.go_down()
    try:
        answer = shopper.say_hi()
        assert 200 <= answer.status_code < 300
        failed = channels.wait_log(FAILED, shopper.rasa_id)
        assert failed[0]["status"] == "unreachable" and failed[0]["attempt"] == 1
    finally:
        shopper.api.come_up()
    reply = shopper.api.wait_for(shopper.is_reply)[0]
    assert is_greeting(shopper.text_of(reply))
    assert_logs_name_no_one(channels, shopper, FAILED)


def test_a_teams_reply_to_a_service_url_that_refuses_connections_arrives_when_it_is_back(channels):
    port = free_port()  # nothing listens there yet: the Bot Connector is "down"
    shopper = teams(channels, service_url=f"http://127.0.0.1:{port}/teams/")
    assert shopper.say_hi().status_code == 200
    failed = channels.wait_log(FAILED, shopper.rasa_id)
    assert failed[0]["status"] == "unreachable"
    connector = standins.bot_connector(port)
    try:
        reply = connector.wait_for(shopper.is_reply)[0]
        assert is_greeting(reply.json()["text"]) and reply.json()["recipient"]["id"] == shopper.raw_id
    finally:
        connector.stop()


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_reply_refused_with_another_4xx_is_not_retried_and_logged_as_undelivered(channels, platform):
    shopper = PLATFORMS[platform](channels)
    shopper.api.fail_next(shopper.is_reply, 400, count=1)
    assert 200 <= shopper.say_hi().status_code < 300
    [undelivered] = channels.wait_log(UNDELIVERED, shopper.rasa_id)
    assert undelivered["level"] == "ERROR" and undelivered["status"] == 400 and undelivered["attempts"] == 1
    time.sleep(1.5)  # longer than any backoff of the test server: a retry would have come by now
    sent = shopper.api.received(shopper.is_reply)
    assert len({r.body for r in sent}) == len(sent)  # nothing sent twice
    assert_logs_name_no_one(channels, shopper, UNDELIVERED)


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_conversation_id_is_namespaced_by_channel(channels, platform):
    shopper = PLATFORMS[platform](channels)
    assert 200 <= shopper.say_hi().status_code < 300
    shopper.api.wait_for(shopper.is_reply)
    url = f"{channels.stack.rasa_url}/conversations/{requests.utils.quote(shopper.rasa_id, safe=':+')}/tracker"
    # Rasa sends the reply before it saves the turn: the stored conversation may trail the reply a little.
    deadline = time.monotonic() + 10
    while True:
        tracker = requests.get(url, timeout=30).json()
        if any(e["event"] == "user" for e in tracker["events"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert tracker["sender_id"] == shopper.rasa_id
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hi"]
    assert tracker["latest_message"]["intent"]["name"] == "greet"
