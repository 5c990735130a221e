"""`deliver`'s policy in this process against the Twilio stand-in, through the real WhatsApp output: attempts,
backoff, Retry-After, what is logged and counted when a reply finally cannot be delivered."""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate

import pytest
from prometheus_client import REGISTRY

from channels.delivery import DeliveryPolicy, retry_after_seconds
from channels.whatsapp_twilio import WhatsAppOutput
from foundation.conversation_ref import conversation_ref
from tests.channels import standins
from tests.channels.conftest import TWILIO_NUMBER, TWILIO_SID, TWILIO_TOKEN
from tests.channels.test_whatsapp import MESSAGES, new_number

FAST = DeliveryPolicy(max_attempts=3, backoff_initial=0.05, backoff_max=0.1, retry_after_max=1.0)


@pytest.fixture
def twilio():
    stand_in = standins.twilio_api()
    yield stand_in
    stand_in.stop()


def failures(channel: str) -> float:
    return REGISTRY.get_sample_value("assistant_channel_delivery_failures_total", {"channel": channel}) or 0.0


def send(
    twilio: standins.StandIn, number: str, text: str = "Your refund is on its way", policy: DeliveryPolicy = FAST
) -> None:
    output = WhatsAppOutput(TWILIO_SID, TWILIO_TOKEN, TWILIO_NUMBER, twilio.url, policy=policy)
    asyncio.run(output.send_text_message(number, text))


def to(number: str):
    return lambda r: r.path == MESSAGES and r.form().get("To") == number


def test_a_reply_refused_every_time_is_given_up_logged_at_error_and_counted(twilio, caplog):
    number = new_number()
    twilio.fail_next(to(number), 503, count=10)
    before = failures("whatsapp")
    with caplog.at_level(logging.INFO, logger="channels.delivery"):
        send(twilio, number)  # returns: an undeliverable reply never fails the turn
    assert len(twilio.received(to(number))) == FAST.max_attempts
    assert failures("whatsapp") == before + 1
    records = [r for r in caplog.records if r.name == "channels.delivery"]
    assert [(r.levelname, getattr(r, "attempt", None)) for r in records] == [
        ("WARNING", 1),
        ("WARNING", 2),
        ("WARNING", 3),
        ("ERROR", None),
    ]
    assert {r.conversation for r in records} == {conversation_ref(number)}  # type: ignore[attr-defined]
    logged = " ".join(str(vars(r)) for r in records)
    assert number.removeprefix("whatsapp:+") not in logged and "refund" not in logged


def test_a_retry_after_longer_than_the_policy_allows_ends_the_attempts(twilio):
    number = new_number()
    twilio.fail_next(to(number), 429, count=1, headers={"Retry-After": "30"})
    before = failures("whatsapp")
    started = time.monotonic()
    send(twilio, number)
    assert time.monotonic() - started < 5  # not 30 s holding the conversation
    assert len(twilio.received(to(number))) == 1 and failures("whatsapp") == before + 1


def test_a_retry_after_given_as_a_date_is_waited_out(twilio):
    number = new_number()
    twilio.fail_next(to(number), 429, count=1, headers={"Retry-After": formatdate(time.time() + 1.5, usegmt=True)})
    send(twilio, number, policy=DeliveryPolicy(max_attempts=2, backoff_initial=0.05, backoff_max=0.1))
    first, second = twilio.received(to(number))
    assert second.at - first.at >= 0.5  # an HTTP date has whole seconds: at least the next second boundary


def test_connection_refused_is_retried_with_growing_waits():
    stand_in = standins.twilio_api()
    number = new_number()
    stand_in.go_down()
    try:
        started = time.monotonic()
        before = failures("whatsapp")
        send(stand_in, number)
        assert failures("whatsapp") == before + 1
        assert time.monotonic() - started >= 0.05 + 0.1  # two backoffs between three attempts
    finally:
        stand_in.come_up()
        stand_in.stop()


def test_retry_after_reads_seconds_and_dates():
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"Retry-After": "-3"}) == 0.0
    assert 8 <= (retry_after_seconds({"Retry-After": formatdate(time.time() + 10, usegmt=True)}) or 0) <= 10
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
