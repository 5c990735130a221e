"""The analytics consumer as a real process on real broker data: events written by Rasa's own SQLEventBroker, and
a conversation through a running stack whose Rasa server publishes to the SQL broker as `make run`'s does. Counts,
a redelivery counted once, and no planted personal data in the analytics database's bytes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from analytics.store import AnalyticsStore
from tests.conftest import ShopApi
from tests.support.processes import REPO
from tests.support.stack import new_sender, start_stack

REF_SECRET = "analytics-test-conversation-ref-secret"
EMAIL = "anna.bakker@example.com"
PHONE = "+31 6 12345678"
CARD = "4242 4242 4242 4242"
CODE = "386278"
WHATSAPP_SENDER = "whatsapp:+31687654321"


def consume(events_db: Path, analytics_db: Path) -> int:
    """`python -m analytics consume --source sql --db ... --once`, as cron would run it; the new events counted."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "--database-url",
            f"sqlite:///{analytics_db}",
            "consume",
            "--source",
            "sql",
            "--db",
            str(events_db),
            "--once",
        ],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "CONVERSATION_REF_SECRET": REF_SECRET, "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return int(re.search(r"(\d+) new events counted", done.stdout).group(1))


def stamped(event, at: float):
    event.timestamp = at
    return event


def shopper_events(start: float) -> list:
    """A WhatsApp shopper who types their email, a phone number, a card number, and the code when asked."""
    parse = {"intent": {"name": "inform", "confidence": 0.9}, "entities": []}
    return [
        stamped(UserUttered("where is my refund?", {"name": "check_refund_status"}), start),
        stamped(ActionExecuted("service_form"), start + 0.1),
        stamped(SlotSet("requested_slot", "login_email"), start + 0.1),
        stamped(BotUttered("What's your email?", metadata={"utter_action": "utter_ask_login_email"}), start + 0.2),
        stamped(ActionExecuted("action_listen"), start + 0.2),
        stamped(UserUttered(f"it's {EMAIL}, or call {PHONE}", parse_data=parse), start + 5),
        stamped(SlotSet("login_email", EMAIL), start + 5.1),
        stamped(SlotSet("requested_slot", "verification_code"), start + 5.1),
        stamped(BotUttered("Please type the code", metadata={"utter_action": "utter_ask_code"}), start + 5.3),
        stamped(ActionExecuted("action_listen"), start + 5.3),
        stamped(UserUttered(CODE, parse_data=parse), start + 9),
        stamped(SlotSet("requested_slot", None), start + 9.1),
        stamped(BotUttered("You're verified", metadata={"utter_action": "utter_verified"}), start + 9.4),
        stamped(ActionExecuted("action_listen"), start + 9.4),
        stamped(UserUttered(f"I paid with {CARD} twice", {"name": "payment_issue"}), start + 15),
        stamped(BotUttered("Let me look", metadata={"utter_action": "utter_payment"}), start + 15.5),
    ]


def publish(broker: SQLEventBroker, sender: str, events: list) -> None:
    for event in events:
        broker.publish({"sender_id": sender, **event.as_dict()})  # as Rasa's tracker store streams them


def assert_no_planted_data(analytics_db: Path) -> None:
    raw = analytics_db.read_bytes()
    for planted in (EMAIL, "anna.bakker", CARD, CARD.replace(" ", ""), CODE, "12345678", WHATSAPP_SENDER, "87654321"):
        assert planted.encode() not in raw, f"{planted!r} is in the analytics database"


def test_rasas_sql_broker_rows_are_counted_once_and_no_personal_data_is_kept(tmp_path):
    events_db, analytics_db = tmp_path / "rasa-events.sqlite", tmp_path / "analytics.sqlite"
    broker = SQLEventBroker(db=str(events_db))
    events = shopper_events(1_796_000_000.0)
    publish(broker, WHATSAPP_SENDER, events)

    assert consume(events_db, analytics_db) == len(events)
    assert consume(events_db, analytics_db) == 0  # nothing new since the last run
    publish(broker, WHATSAPP_SENDER, events[-4:])  # a redelivery: the same events in new rows
    assert consume(events_db, analytics_db) == 0

    store = AnalyticsStore(f"sqlite:///{analytics_db}", ref_secret=REF_SECRET)
    try:
        (conversation,) = store.conversations()
        turns = store.turns()
    finally:
        store.close()
    assert (conversation.channel, conversation.turns, len(turns)) == ("whatsapp", 4, 4)
    assert [turn.text for turn in turns] == [
        "where is my refund?",
        "it's [email], or call [phone]",
        "[code]",
        "I paid with [card ending 4242] twice",
    ]
    assert [turn.latency_seconds for turn in turns] == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert_no_planted_data(analytics_db)


@pytest.fixture(scope="module")
def stack_with_broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analytics-stack")
    running = start_stack(folder, event_broker_db=folder / "rasa-events.sqlite")
    yield running, folder / "rasa-events.sqlite"
    running.stop()


def test_a_conversation_through_the_stack_is_counted_from_its_broker_without_its_code(stack_with_broker, tmp_path):
    stack, events_db = stack_with_broker
    shop = ShopApi(stack.shop_url)
    customer = shop.get("/v1/customers/C1001").json()
    verified, handed = new_sender(), new_sender()
    stack.say(verified, "where is my refund?")
    stack.say(verified, customer["email"])
    message = shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"][0]
    code = re.search(r"\d{6}", message["body"]).group(0)
    stack.say(verified, code)
    stack.say(verified, "thanks!")
    stack.say(handed, "I want to talk to a person")

    analytics_db = tmp_path / "analytics.sqlite"
    assert consume(events_db, analytics_db) > 0
    assert consume(events_db, analytics_db) == 0
    store = AnalyticsStore(f"sqlite:///{analytics_db}", ref_secret=REF_SECRET)
    try:
        conversations = {conversation.turns: conversation for conversation in store.conversations()}
        turns = store.turns()
    finally:
        store.close()
    assert sorted(conversations) == [1, 4] and {c.channel for c in conversations.values()} == {"rest"}
    assert conversations[1].handed_off and conversations[1].handoff_reason == "customer_request"
    assert not conversations[4].handed_off
    first_intents = [turn.intent for turn in turns if turn.conversation_ref == conversations[4].ref]
    assert first_intents[0] == "check_refund_status"
    assert all(turn.latency_seconds is not None and turn.latency_seconds >= 0 for turn in turns)
    raw = analytics_db.read_bytes()
    for planted in (code.encode(), customer["email"].encode(), verified.encode(), handed.encode()):
        assert planted not in raw
