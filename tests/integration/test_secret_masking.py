"""A real verification by one-time code through a real Rasa server, action server and demo shop, with a card
number typed too: neither is in the tracker store, the event broker or any log afterwards, and the shopper
stays verified, also for a tracker rebuilt from the stored rows."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from foundation.conversation_ref import conversation_ref
from tests.conftest import ShopApi
from tests.support.processes import REPO
from tests.support.stack import start_stack

REF_SECRET = "integration-conversation-ref-secret"
CARD = "4242 4242 4242 4242"
DEBUG = {"LOG_LEVEL": "DEBUG", "CONVERSATION_REF_SECRET": REF_SECRET}  # debug logs carry every message and event


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("masking")
    stack = start_stack(tmp, env=DEBUG, rasa_env=DEBUG, rasa_args=("--debug",), event_broker_db=tmp / "events.sqlite")
    try:
        shop = ShopApi(stack.shop_url)
        sender = uuid.uuid4().hex + uuid.uuid4().hex

        def said(text: str) -> str:
            return "\n".join(message.get("text", "") for message in stack.say(sender, text))

        transcript = {
            "asked": said("where is my refund?"),
            "sent": said(shop.get("/v1/customers/C1001").json()["email"]),
        }
        outbox = shop.get("/v1/outbox", params={"customer_id": "C1001"}).json()["messages"][0]
        code = re.search(r"\d{6}", outbox["body"]).group(0)
        transcript["verified"] = said(code)
        transcript["again"] = said("where is my refund?")
        transcript["card"] = said(f"I paid with my card {CARD}")
    finally:
        stack.stop()
    yield {"tmp": tmp, "code": code, "transcript": transcript}


def found(secret: str, text: str) -> bool:
    """The secret as digits standing alone (a code can also be part of a longer number, such as a timestamp)."""
    return re.search(rf"(?<!\d){re.escape(secret)}(?!\d)", text) is not None


def rows(database: Path, table: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(f"SELECT sender_id, data FROM {table} ORDER BY id").fetchall()


def test_the_conversation_works_and_the_shopper_stays_verified(conversation):
    transcript = conversation["transcript"]
    assert "email address on your Larkspur account" in transcript["asked"]
    assert "6-digit code" in transcript["sent"]
    assert "you're verified" in transcript["verified"] and "We refunded" in transcript["verified"]
    assert "We refunded" in transcript["again"] and "email address" not in transcript["again"]
    assert transcript["card"]  # answered


def test_the_code_and_the_card_are_in_neither_store_and_the_masks_are(conversation):
    tmp, code = conversation["tmp"], conversation["code"]
    stored = {"tracker": rows(tmp / "tracker.sqlite", "events"), "broker": rows(tmp / "events.sqlite", "events")}
    for name, found_rows in stored.items():
        text = "\n".join(data for _, data in found_rows)
        assert found_rows, f"nothing in the {name}"
        assert not found(code, text), f"the one-time code is in the {name}"
        assert not found(CARD.replace(" ", ""), text) and CARD not in text, f"the card number is in the {name}"
        assert "[code]" in text and "[card ending 4242]" in text
    for database in (tmp / "tracker.sqlite", tmp / "events.sqlite"):  # nor anywhere else in the files
        raw = database.read_bytes().decode("latin-1")
        assert not found(code, raw) and CARD not in raw


def test_a_tracker_rebuilt_from_the_stored_rows_is_still_verified(conversation):
    stored = rows(conversation["tmp"] / "tracker.sqlite", "events")
    domain = Domain.from_dict(yaml.safe_load((REPO / "domain.yml").read_text()))
    tracker = DialogueStateTracker.from_dict(stored[0][0], [json.loads(data) for _, data in stored], domain.slots)
    assert tracker.get_slot("customer_id") == "C1001"
    assert tracker.get_slot("verification_code") == "verified"


def test_no_log_holds_the_code_the_card_or_the_sender_id(conversation):
    tmp, code = conversation["tmp"], conversation["code"]
    sender_id = rows(tmp / "tracker.sqlite", "events")[0][0]
    logs = {path.name: path.read_text() for path in tmp.glob("*.log")}
    assert {"rasa.log", "actions.log"} <= set(logs)
    for name, text in logs.items():
        assert all(isinstance(json.loads(line), dict) for line in text.splitlines()), f"{name} is not JSON lines"
        assert not found(code, text), f"the one-time code is in {name}"
        assert CARD not in text and CARD.replace(" ", "") not in text, f"the card number is in {name}"
        assert sender_id not in text, f"the conversation id is in {name}"
    assert "[code]" in logs["rasa.log"]  # the debug log did carry the message, masked
    assert conversation_ref(sender_id, REF_SECRET) in logs["rasa.log"]
