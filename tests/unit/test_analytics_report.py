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
    assert "No conversation has a rating yet" in text and "CSAT" in text
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


def rated_day(store: AnalyticsStore) -> None:
    """The small day, with the answered conversation rated 5 and the handed-over one rated 2 (an invalid 9 too)."""
    small_day(store)
    start = 1_796_000_100.0
    store.count(
        [
            stamped("rest:a", start, SlotSet("csat_rating", 5)),
            stamped("rest:a", start + 0.1, SlotSet("csat_comment", "quick, thanks: anna@example.com")),
            stamped("slack:T/C/U", start + 1, SlotSet("csat_rating", 2.0)),
            stamped("whatsapp:+31612345678", start + 2, SlotSet("csat_rating", 9)),
        ]
    )


def test_the_csat_section_shows_the_mean_the_count_the_distribution_and_by_day_and_channel(store, tmp_path):
    rated_day(store)
    out = tmp_path / "report.html"
    summary = write_report(store, out)
    assert summary.csat_ratings == 2 and summary.csat_mean == 3.5
    assert summary.csat_distribution == [(1, 0), (2, 1), (3, 0), (4, 0), (5, 1)]
    assert {row.key: (row.csat_ratings, row.csat) for row in summary.by_channel} == {
        "rest": (1, 5),
        "slack": (1, 2),
        "whatsapp": (0, None),
    }
    html = out.read_text()
    csat = text_of(html[html.index('<section id="csat">') :])
    assert "Mean rating (1 to 5) 3.50" in csat and "Conversations rated 2" in csat
    assert "rating conversations 1 0 2 1 3 0 4 0 5 1" in csat
    assert "channel rated mean rating rest 1 5.00 slack 1 2.00" in csat and "whatsapp" not in csat
    assert "day rated mean rating 2026-11-30 2 3.50" in csat
    assert html[html.index('<section id="csat">') :].count("<svg") == 1  # the distribution as a chart
    assert "anna@example.com" not in html and "quick, thanks" not in html  # the comment is not kept


def test_the_served_page_draws_its_charts_as_png_data_with_no_inline_svg_styles(store):
    from analytics.report import render
    from analytics.summary import summarise

    rated_day(store)
    html = render(summarise(store.conversations(), store.turns()), source="test", chart_format="png")
    assert "<svg" not in html and " style=" not in html
    assert html.count('<img class="chart"') >= 6 and 'src="data:image/png;base64,' in html
    assert not re.search(r"""<(?:link|script)\b|\bsrc=(?!"data:image/png;base64,)""", html)
