"""analytics/report.py: `make report`'s HTML, from a small analytics database, has every section and is one file."""

from __future__ import annotations

import re

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, SlotSet, UserUttered

from analytics.report import make_report, write_report
from analytics.store import AnalyticsStore

SECTIONS = ("overview", "escalations", "drop-off", "latency", "by-day", "by-channel", "by-intent", "csat")


def message(sender: str, at: float, text: str, intent: str) -> dict:
    event = UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}})
    event.timestamp = at
    return {"sender_id": sender, **event.as_dict()}


def stamped(sender: str, at: float, event) -> dict:
    event.timestamp = at
    return {"sender_id": sender, **event.as_dict()}


@pytest.fixture
def store(tmp_path):
    found = AnalyticsStore(f"sqlite:///{tmp_path / 'analytics.sqlite'}", ref_secret="report-test")
    yield found
    found.close()


def small_day(store: AnalyticsStore) -> None:
    """Three conversations: one answered, one handed to a person for a double charge, one left at the email."""
    start = 1_796_000_000.0
    store.count(
        [
            message("rest:a", start, "where is my order 10007?", "check_order_status"),
            stamped("rest:a", start + 0.5, BotUttered("On its way", metadata={"utter_action": "utter_order_status"})),
            message("slack:T/C/U", start + 10, "I was charged twice", "payment_issue"),
            stamped("slack:T/C/U", start + 10.2, SlotSet("handoff_reason", "double_charge")),
            stamped("slack:T/C/U", start + 10.3, ActionExecuted("action_handoff")),
            stamped("slack:T/C/U", start + 10.4, BotUttered("Passed on", metadata={"utter_action": "utter_handoff"})),
            stamped("slack:T/C/U", start + 10.5, ConversationPaused()),
            message("whatsapp:+31612345678", start + 20, "where is my refund?", "check_refund_status"),
            stamped("whatsapp:+31612345678", start + 20.1, SlotSet("requested_slot", "login_email")),
            stamped(
                "whatsapp:+31612345678",
                start + 21.0,
                BotUttered("Your email?", metadata={"utter_action": "utter_ask_login_email"}),
            ),
        ]
    )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", html, flags=re.S)))


def test_the_report_has_every_section_with_the_figures_of_the_database(store, tmp_path):
    small_day(store)
    out = tmp_path / "results" / "report.html"
    summary = write_report(store, out)
    html = out.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    text = text_of(html)
    assert "Conversations 3" in text and "Containment (resolved without a person) 33.3% (1)" in text
    assert "double_charge 1" in text and "utter_ask_login_email 1" in text
    assert "Not collected yet" in text and "CSAT" in text
    for channel in ("rest", "slack", "whatsapp"):
        assert f" {channel} 1 1 " in text
    assert summary.handoff_reasons == [("double_charge", 1)]
    assert html.count("<svg") >= 5  # the charts sit inline


def test_the_report_is_one_self_contained_file(store, tmp_path):
    small_day(store)
    out = tmp_path / "report.html"
    write_report(store, out)
    html = out.read_text()
    assert not re.search(r"""<(?:link|script|img)\b|\bsrc=|url\((?!#)""", html), "the report loads nothing else"


def test_with_no_conversations_the_report_says_how_to_get_some(store, tmp_path):
    out = tmp_path / "report.html"
    summary = make_report(store, str(tmp_path / "no-broker-yet.sqlite"), out)
    assert summary.conversations == 0
    text = text_of(out.read_text())
    assert "No conversations yet: run make run and chat with the assistant" in text
    assert "Overview" not in text
    assert not (tmp_path / "no-broker-yet.sqlite").exists()  # reading a missing broker does not create it
