"""The Rasa server's webhooks under fuzzing: REST (valid shapes with hostile sender ids and metadata, and broken
ones), and Slack, Teams and WhatsApp with requests signed as the platforms sign them (so they reach the parsers),
and with missing, stale or wrong signatures (so the refusals are exercised too)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import strategies as st

from tests.channels.conftest import (
    SLACK_BOT_USER,
    SLACK_SECRET,
    TWILIO_NUMBER,
    TWILIO_PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
)
from tests.fuzz import strategies as hostile
from tests.fuzz.budget import FuzzBudget
from tests.fuzz.conftest import FuzzChannels
from tests.fuzz.runner import fuzz, http_send, still_answers
from tests.fuzz.signing import slack_headers, twilio_signature
from tests.fuzz.tally import Answer, Sent, Tally

pytestmark = pytest.mark.slow
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
Signer = Callable[[Sent, str], Sent]


def _run(tally: Tally, channels: FuzzChannels, strategy: st.SearchStrategy[tuple[Sent, str]], sign: Signer,
         budget: FuzzBudget) -> None:  # fmt: skip
    send = http_send(requests.Session(), channels.stack.rasa_url)

    def signed(example: tuple[Sent, str]) -> tuple[Sent, Answer]:
        request, how = example
        return send(sign(request, how))

    fuzz(tally, strategy, signed, budget)
    tally.healthy_after = still_answers(
        f"{channels.stack.rasa_url}/status", lambda r: r.status_code == 200 and bool(r.json().get("model_file"))
    )
    assert not tally.failures and tally.healthy_after, tally.explain()


def _requests(
    path: str, bodies: st.SearchStrategy[tuple[bytes, str]], hows: st.SearchStrategy[str]
) -> st.SearchStrategy[tuple[Sent, str]]:
    paths = st.one_of(
        st.just(path), st.just(path), st.just(path), st.sampled_from([path + "/", path[: -len("webhook")]])
    )
    return st.tuples(
        st.builds(lambda method, p, body: Sent(method, p, {"Content-Type": body[1]}, body[0]),
                  hostile.methods("POST"), paths, bodies),
        hows,
    )  # fmt: skip


def unguessable() -> st.SearchStrategy[str]:
    return st.text(alphabet=URL_SAFE, min_size=22, max_size=64)


def test_rest_webhook(fuzz_channels: FuzzChannels, budget: FuzzBudget, tally: Tally) -> None:
    message = hostile.fixed(
        {
            "sender": st.one_of(unguessable(), unguessable(), hostile.hostile_ids()),
            "message": st.one_of(st.sampled_from(["hi", "where is my refund?", "/greet", "/restart", "10234"]),
                                 hostile.texts()),
            "metadata": st.one_of(st.just({}), hostile.json_values(),
                                  hostile.fixed({"customer_token": hostile.texts(), "session_token": hostile.texts(),
                                                 "input_channel": st.just("slack")})),
        }
    )  # fmt: skip
    strategy = _requests("/webhooks/rest/webhook", hostile.json_bodies(message), st.just("-"))
    _run(tally, fuzz_channels, strategy, lambda request, _: request, budget)


def slack_bodies() -> st.SearchStrategy[tuple[bytes, str]]:
    event = hostile.fixed(
        {
            "type": st.sampled_from(["message", "app_mention", "reaction_added"]),
            "channel": st.one_of(st.sampled_from(["D0SHOPPER", "C0PUBLIC"]), hostile.texts()),
            "user": st.one_of(st.just("U0SHOPPER1"), st.just(SLACK_BOT_USER), hostile.texts()),
            "text": st.one_of(st.sampled_from(["hi", f"<@{SLACK_BOT_USER}> where is my order?"]), hostile.texts()),
            "ts": st.just("1718000000.000100"),
            "channel_type": st.sampled_from(["im", "channel"]),
        }
    )
    callback = hostile.fixed(
        {
            "type": st.sampled_from(["event_callback", "url_verification"]),
            "challenge": hostile.texts(),
            "team_id": st.just("T0LARK"),
            "event_id": st.text(max_size=12),
            "authorizations": st.just([{"user_id": SLACK_BOT_USER, "is_bot": True}]),
            "event": event,
        }
    )
    as_form = st.builds(lambda payload: (urlencode({"payload": json.dumps(payload)}).encode(),
                                         "application/x-www-form-urlencoded"), hostile.json_values())  # fmt: skip
    return st.one_of(hostile.json_bodies(callback), hostile.json_bodies(callback), as_form)


def test_slack_webhook(fuzz_channels: FuzzChannels, budget: FuzzBudget, tally: Tally) -> None:
    hows = st.sampled_from(["valid", "valid", "valid", "valid", "stale", "wrong", "none", "retry"])

    def sign(request: Sent, how: str) -> Sent:
        headers = {**request.headers, **slack_headers(SLACK_SECRET, request.body, "valid" if how == "retry" else how)}
        if how == "retry":
            headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        return Sent(request.method, request.target, headers, request.body)

    _run(tally, fuzz_channels, _requests("/webhooks/slack/webhook", slack_bodies(), hows), sign, budget)


def test_teams_webhook(fuzz_channels: FuzzChannels, budget: FuzzBudget, tally: Tally) -> None:
    activity = hostile.fixed(
        {
            "type": st.sampled_from(["message", "message", "conversationUpdate", "typing"]),
            "id": st.text(max_size=20),
            "channelId": st.one_of(st.just("msteams"), hostile.texts()),
            "serviceUrl": st.one_of(st.just(fuzz_channels.teams_service_url), hostile.texts()),
            "from": st.one_of(
                hostile.fixed({"id": hostile.hostile_ids(), "name": hostile.texts()}), hostile.json_values()
            ),
            "conversation": st.one_of(hostile.fixed({"id": hostile.hostile_ids()}), hostile.json_values()),
            "recipient": hostile.fixed({"id": st.just("28:bot"), "name": st.just("Larkspur")}),
            "text": st.one_of(st.sampled_from(["hi", "<at>Larkspur</at> where is my refund?"]), hostile.texts()),
            "attachments": st.lists(hostile.json_values(), max_size=2),
        }
    )  # fmt: skip
    hows = st.sampled_from(["valid", "valid", "valid", "valid", "expired", "audience", "foreign", "service", "none",
                            "garbage"])  # fmt: skip

    def sign(request: Sent, how: str) -> Sent:
        headers = dict(request.headers)
        if how == "garbage":
            headers["Authorization"] = "Bearer not.a.jwt"
        elif how != "none":
            headers["Authorization"] = f"Bearer {fuzz_channels.teams_token(how)}"
        return Sent(request.method, request.target, headers, request.body)

    strategy = _requests("/webhooks/teams/webhook", hostile.json_bodies(activity), hows)
    _run(tally, fuzz_channels, strategy, sign, budget)


@st.composite
def twilio_forms(draw: st.DrawFn) -> tuple[bytes, str]:
    """Twilio's form: the valid fields, some dropped, doubled, replaced or added, or raw bytes."""
    fields = [
        ("From", draw(st.one_of(st.just("whatsapp:+31612345678"), hostile.texts()))),
        ("To", draw(st.one_of(st.just(TWILIO_NUMBER), hostile.texts()))),
        ("MessageSid", draw(st.one_of(st.just("SM" + "ab12" * 8), st.text(max_size=40)))),
        ("AccountSid", draw(st.one_of(st.just(TWILIO_SID), st.text(max_size=40)))),
        ("Body", draw(st.one_of(st.sampled_from(["hi", "where is my order?"]), hostile.texts()))),
    ]
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["drop", "double", "extra"]))
        if kind == "drop" and fields:
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif kind == "double" and fields:
            fields.append(fields[draw(st.integers(0, len(fields) - 1))])
        else:
            fields.append((draw(st.text(max_size=20)), draw(hostile.texts())))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=1000)), "application/x-www-form-urlencoded"
    content_type = (
        "application/x-www-form-urlencoded" if draw(st.integers(0, 5)) else draw(st.sampled_from(hostile.CONTENT_TYPES))
    )
    return urlencode(fields, errors="surrogatepass").encode(), content_type


def test_whatsapp_webhook(fuzz_channels: FuzzChannels, budget: FuzzBudget, tally: Tally) -> None:
    hows = st.sampled_from(["valid", "valid", "valid", "valid", "wrong", "none"])

    def sign(request: Sent, how: str) -> Sent:
        headers = {**request.headers, **twilio_signature(TWILIO_TOKEN, TWILIO_PUBLIC_URL, request.body, how)}
        return Sent(request.method, request.target, headers, request.body)

    _run(tally, fuzz_channels, _requests("/webhooks/whatsapp/webhook", twilio_forms(), hows), sign, budget)
