"""Known personal data planted through every channel of a real stack, then searched for in every sink.

Through each channel the stack serves (REST, the web chat with its session token, Slack, WhatsApp through
Twilio, Teams: signed as the platforms sign, the replies going to the local stand-ins of their APIs), a
shopper verifies with their email and a one-time code, types a phone number, a street address and a card
number, and asks for a person. The stack (demo shop, action server, web chat server, Rasa with its SQL event
broker) logs as served (INFO), but Rasa at DEBUG, where it logs each message's text, so that the log filter has
something to catch. Then every sink is read as its bytes: each process's log, the tracker store, the
event broker, the analytics store (the SQL consumer run once over the broker, as `make report` does), the
helpdesk tickets and the /metrics of Rasa and of the action server. Each may hold only what docs/privacy.md's
table allows:

- logs, the event broker, the analytics store, the tickets and the metrics hold none of it;
- the tracker store keeps what the shopper wrote (the conversation needs it), but never the code or the card.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from channels import sessions
from foundation import REPO
from foundation.processes import ChildProcess, free_port
from tests.channels import standins
from tests.channels import test_slack as slack
from tests.channels import test_teams as teams
from tests.channels import test_whatsapp as whatsapp
from tests.channels.conftest import (
    DELIVERY_ENV,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAMS_APP_ID,
    TEAMS_APP_PASSWORD,
    TEAMS_KID,
    TWILIO_NUMBER,
    TWILIO_PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    Channels,
    private_key,
    public_jwk,
)
from tests.conftest import ShopApi
from tests.support.stack import new_sender, start_stack

pytestmark = pytest.mark.slow

PHONE = "+31 6 1234 5678"
STREET, POSTCODE = "Keizersgracht 123", "1015 CJ"
ADDRESS = f"{STREET}, {POSTCODE} Amsterdam"
CARD = "4242 4242 4242 4242"
SESSION_SECRET = "leak-test-rest-session-secret-0123456789"
SERVED = {"LOG_LEVEL": "INFO", "CONVERSATION_REF_SECRET": "leak-test-conversation-ref-secret"}
CHANNELS = ("rest", "webchat", "slack", "whatsapp", "teams")
SETTLE = 1.5  # seconds without a new reply: a turn of an asynchronous channel is answered in full


def wait_replies(received: Callable[[], list[str]], before: int, timeout: float = 90.0) -> list[str]:
    """The replies after the first `before`, once at least one came and no other followed for SETTLE seconds."""
    deadline, count, changed = time.monotonic() + timeout, before, time.monotonic()
    while time.monotonic() < deadline:
        now = len(received())
        if now != count:
            count, changed = now, time.monotonic()
        elif count > before and time.monotonic() - changed >= SETTLE:
            return received()[before:]
        time.sleep(0.1)
    raise AssertionError(f"no complete answer within {timeout}s (replies: {received()[before:]})")


def rest_talk(stack, metadata: dict | None = None) -> Callable[[str], list[str]]:
    sender = new_sender()
    return lambda text: [m.get("text") or "" for m in stack.say(sender, text, metadata)]


def webchat_talk(stack, webchat_url: str) -> Callable[[str], list[str]]:
    """The web chat's flow: the page asks its server for a sender id and a session token, then talks to Rasa's
    REST webhook with the token in every message's metadata."""
    session = requests.get(f"{webchat_url}/session", timeout=10).json()
    token = {sessions.METADATA_KEY: session["session_token"]}
    return lambda text: [m.get("text") or "" for m in stack.say(session["sender"], text, token)]


def slack_talk(channels: Channels) -> Callable[[str], list[str]]:
    channel = slack.new_channel()

    def received() -> list[str]:
        return [r.body.decode() for r in slack.replies_in(channels, channel)]  # text, or blocks for buttons

    def say(text: str) -> list[str]:
        before = len(received())
        assert slack.post(channels, slack.message_event(text, channel=channel)).status_code == 200
        return wait_replies(received, before)

    return say


def whatsapp_talk(channels: Channels) -> Callable[[str], list[str]]:
    number = whatsapp.new_number()

    def received() -> list[str]:
        return [r.form().get("Body") or "" for r in whatsapp.replies_to(channels, number)]

    def say(text: str) -> list[str]:
        before = len(received())
        assert whatsapp.post(channels, whatsapp.inbound(text, number)).status_code in (200, 204)
        return wait_replies(received, before)

    return say


def teams_talk(channels: Channels) -> Callable[[str], list[str]]:
    conversation = teams.new_conversation()

    def received() -> list[str]:
        return [r.body.decode() for r in teams.sent_to(channels, conversation)]  # text, or a card for buttons

    def say(text: str) -> list[str]:
        before = len(received())
        answer = teams.post(channels, teams.activity(channels, text, conversation), channels.teams_token())
        assert answer.status_code in (200, 201, 202), answer.text
        return wait_replies(received, before)

    return say


def plant(say: Callable[[str], list[str]], shop: ShopApi, email: str) -> dict:
    """One shopper's conversation through `say`: verification, a phone, an address, a card, a person."""
    replies = [say("where is my refund?")]
    sent = len(shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"])
    replies.append(say(email))
    outbox = shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"]
    assert len(outbox) > sent, replies
    code = re.search(r"\d{6}", outbox[0]["body"]).group(0)  # the newest: the one this conversation asked for
    replies.append(say(code))
    replies.append(say(f"you can call me on {PHONE}"))
    replies.append(say(f"I live at {ADDRESS}"))
    replies.append(say(f"I paid with my card {CARD}"))
    replies.append(say("I want to talk to a real person please"))
    return {"replies": replies, "code": code}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaks")
    teams_key, webchat_only_key = private_key(), private_key()
    jwks = {"keys": [public_jwk(teams_key, TEAMS_KID)]}
    slack_api, twilio_api, microsoft = standins.slack_api(), standins.twilio_api(), standins.microsoft(jwks)
    rasa_env = {
        **SERVED,
        "LOG_LEVEL": "DEBUG",  # Rasa logs each message's text at DEBUG: the log filter must catch it
        "REST_SESSION_SECRET": SESSION_SECRET,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": f"{slack_api.url}/api/",
        "TEAMS_APP_ID": TEAMS_APP_ID,
        "TEAMS_APP_PASSWORD": TEAMS_APP_PASSWORD,
        "TEAMS_OPENID_METADATA_URL": f"{microsoft.url}/openidconfiguration",
        "TEAMS_TOKEN_URL": f"{microsoft.url}/token",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": TWILIO_NUMBER,
        "TWILIO_WEBHOOK_URL": TWILIO_PUBLIC_URL,
        "TWILIO_API_URL": twilio_api.url,
        **DELIVERY_ENV,
    }
    actions_metrics = free_port()
    backend_env = {**SERVED, "ACTIONS_METRICS_PORT": str(actions_metrics)}
    stack = start_stack(tmp, env=backend_env, rasa_env=rasa_env, event_broker_db=tmp / "events.sqlite")
    webchat_port = free_port()
    webchat = ChildProcess(
        "webchat",
        [sys.executable, "-m", "webchat"],
        {
            **SERVED,
            "WEBCHAT_PORT": str(webchat_port),
            "WEBCHAT_METRICS_PORT": "0",
            "RASA_PUBLIC_URL": stack.rasa_url,
            "REST_SESSION_SECRET": SESSION_SECRET,
        },
        tmp / "webchat.log",
    )
    try:
        webchat_url = f"http://127.0.0.1:{webchat_port}"
        webchat.wait_http(f"{webchat_url}/health", timeout=60)
        channels = Channels(stack, slack_api, microsoft, twilio_api, teams_key, webchat_only_key, jwks)
        shop = ShopApi(stack.shop_url)
        email = shop.get("/v1/customers/C1001").json()["email"]
        talks = {
            "rest": rest_talk(stack),
            "webchat": webchat_talk(stack, webchat_url),
            "slack": slack_talk(channels),
            "whatsapp": whatsapp_talk(channels),
            "teams": teams_talk(channels),
        }
        conversations = {name: plant(talk, shop, email) for name, talk in talks.items()}
        listed = shop.get("/v1/tickets", params={"customer_id": "C1001"}).json()["tickets"]
        tickets = {t["id"]: shop.get(f"/v1/tickets/{t['id']}").text for t in listed}
        metrics = "\n".join(
            requests.get(url, timeout=30).text
            for url in (stack.rasa_metrics_url, f"http://127.0.0.1:{actions_metrics}/metrics")
        )
    finally:
        webchat.stop()
        stack.stop()
        for stand_in in (slack_api, twilio_api, microsoft):
            stand_in.stop()
    analytics = subprocess.run(  # as `make report` counts the broker's events (python -m analytics)
        [
            sys.executable,
            "-m",
            "analytics",
            "--database-url",
            f"sqlite:///{tmp / 'analytics.sqlite'}",
            "consume",
            "--source",
            "sql",
            "--db",
            str(tmp / "events.sqlite"),
            "--once",
        ],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **SERVED},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analytics.returncode == 0, analytics.stderr
    (tmp / "analytics.log").write_text(analytics.stdout + analytics.stderr)
    yield {
        "tmp": tmp,
        "conversations": conversations,
        "secrets": {
            "card": CARD,
            **{f"code ({name})": c["code"] for name, c in conversations.items()},
        },
        "personal": {
            "email": email,
            "phone": PHONE,
            "phone digits": "612345678",
            "street": STREET,
            "postcode": POSTCODE,
        },
        "tickets": tickets,
        "metrics": metrics,
    }


def variants(value: str) -> list[str]:
    """A value as it may be written: as typed, without spaces, in lower case."""
    return sorted({value, value.replace(" ", ""), value.lower(), value.replace(" ", "").lower()})


def holds(text: str, value: str) -> bool:
    lowered = text.lower()
    return any(variant.lower() in lowered for variant in variants(value)) or (
        value.isdigit() and re.search(rf"(?<!\d){value}(?!\d)", text) is not None
    )


def stored(database: Path) -> str:
    """Every value of every table of a SQLite database, as text."""
    with sqlite3.connect(database) as connection:
        return "\n".join(connection.iterdump())


def everything(planted) -> dict[str, str]:
    return {**planted["secrets"], **planted["personal"]}


def test_every_channel_went_through_verification_and_the_handoff(planted):
    for name, conversation in planted["conversations"].items():
        said = ["\n".join(turn) for turn in conversation["replies"]]
        assert all(said), (name, said)
        assert "verified" in said[2], (name, said[2])
        assert re.search(r"ticket #\d+", said[-1]), (name, said[-1])
    assert len(planted["tickets"]) == len(CHANNELS)
    assert all('"transcript"' in ticket for ticket in planted["tickets"].values())


def test_no_log_line_of_any_process_holds_any_of_it(planted):
    logs = {path.name: path.read_text(errors="replace") for path in planted["tmp"].glob("*.log")}
    expected = {"rasa.log", "actions.log", "webchat.log", "analytics.log"}
    assert expected <= set(logs) and any(name.startswith("demoshop") for name in logs)
    for name, text in logs.items():
        for kind, value in everything(planted).items():
            assert not holds(text, value), f"the {kind} is in {name}"


def test_the_metrics_hold_none_of_it(planted):
    assert "assistant_messages_received_total" in planted["metrics"]
    for kind, value in everything(planted).items():
        assert not holds(planted["metrics"], value), f"the {kind} is in the metrics"


def test_the_event_broker_and_the_analytics_store_hold_none_of_it(planted):
    tmp = planted["tmp"]
    sinks = {"event broker": stored(tmp / "events.sqlite"), "analytics store": stored(tmp / "analytics.sqlite")}
    assert "[email]" in sinks["event broker"] and "[address]" in sinks["event broker"]  # redacted, not lost
    assert "analytics_conversations" in sinks["analytics store"]
    for sink, text in sinks.items():
        for kind, value in everything(planted).items():
            assert not holds(text, value), f"the {kind} is in the {sink}"


def test_the_tickets_hold_none_of_it_but_the_customer_and_the_reason(planted):
    for ticket_id, ticket in planted["tickets"].items():
        assert '"customer_id": "C1001"' in ticket.replace('":"', '": "') and "customer_request" in ticket
        for kind, value in everything(planted).items():
            assert not holds(ticket, value), f"the {kind} is in ticket #{ticket_id}"


def test_the_tracker_store_keeps_the_conversation_but_never_the_code_or_the_card(planted):
    tracker = stored(planted["tmp"] / "tracker.sqlite")
    for kind, value in planted["secrets"].items():
        assert not holds(tracker, value), f"the {kind} is in the tracker store"
    for kind in ("email", "phone", "street"):
        assert holds(tracker, planted["personal"][kind]), f"the tracker store lost the {kind} the shopper wrote"
