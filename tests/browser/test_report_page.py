"""The analytics report page in a real headless Chromium: `python -m analytics consume --source sql --serve` as a
process, counting events that Rasa's own SQLEventBroker wrote, serves `/report` to the operator's token only;
every section renders, the charts are visible, the figures are the store's, the page's CSP allows all of it and
Chromium logs no error.

Needs Debian's `chromium` (/usr/bin/chromium; `make system-deps` installs it) and the pinned `playwright`
package, as tests/browser/test_webchat.py does: without them the test fails rather than skips.
"""

from __future__ import annotations

import re
import sys

import pytest
import requests
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, SlotSet, UserUttered

from analytics.store import AnalyticsStore
from analytics.summary import as_percent, summarise
from tests.support.processes import Service, free_port

TOKEN = "browser-report-token-0123456789abcdef"
REF_SECRET = "browser-report-conversation-ref-secret"
HEADINGS = (
    "Overview",
    "Escalations by reason",
    "Drop-off: the last step of unresolved conversations",
    "Latency per turn",
    "By day",
    "By channel",
    "By intent",
    "Customer satisfaction (CSAT)",
)


def stamped(event, at: float):
    event.timestamp = at
    return event


def user(text: str, intent: str, at: float) -> UserUttered:
    return stamped(UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}}), at)


def bot(response: str, at: float) -> BotUttered:
    return stamped(BotUttered("...", metadata={"utter_action": response}), at)


def conversations(start: float) -> dict[str, list]:
    """Three conversations on two days and three channels: one resolved and rated 5, one handed to a person for a
    double charge and rated 2, one left when asked for the email."""
    day = 86_400.0
    return {
        "rest:resolved": [
            user("where is my order 10007?", "check_order_status", start),
            bot("utter_order_status", start + 0.6),
            stamped(SlotSet("csat_rating", 5), start + 5),
        ],
        "slack:T1/C2/U3": [
            user("I was charged twice", "payment_issue", start + 10),
            stamped(SlotSet("handoff_reason", "double_charge"), start + 10.2),
            stamped(ActionExecuted("action_handoff"), start + 10.3),
            bot("utter_handoff", start + 11.5),
            stamped(ConversationPaused(), start + 11.6),
            stamped(SlotSet("csat_rating", 2), start + 12),
        ],
        "whatsapp:+31611111111": [
            user("where is my refund?", "check_refund_status", start + day),
            stamped(SlotSet("requested_slot", "login_email"), start + day + 0.1),
            bot("utter_ask_login_email", start + day + 0.9),
        ],
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The analytics process over a SQL broker Rasa's SQLEventBroker filled, with the report page on a free port."""
    tmp = tmp_path_factory.mktemp("report-page")
    events_db, analytics_db = tmp / "rasa-events.sqlite", tmp / "analytics.sqlite"
    broker = SQLEventBroker(db=str(events_db))
    for sender, events in conversations(1_796_000_000.0).items():
        for event in events:
            broker.publish({"sender_id": sender, **event.as_dict()})
    port = free_port()
    command = [sys.executable, "-m", "analytics", "--database-url", f"sqlite:///{analytics_db}", "consume"]
    process = Service(
        "analytics",
        [*command, "--source", "sql", "--db", str(events_db), "--serve"],
        {
            "ANALYTICS_HOST": "127.0.0.1",
            "ANALYTICS_PORT": str(port),
            "ANALYTICS_METRICS_PORT": "0",  # not scraped here
            "ANALYTICS_POLL_SECONDS": "0.5",
            "REPORT_TOKEN": TOKEN,
            "CONVERSATION_REF_SECRET": REF_SECRET,
            "RASA_TELEMETRY_ENABLED": "false",
        },
        tmp / "analytics.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(f"{url}/health", timeout=60)
        store = AnalyticsStore(f"sqlite:///{analytics_db}", ref_secret=REF_SECRET)
        process.wait_until(lambda: len(store.conversations()) == 3, 30, condition="counted")
        summary = summarise(store.conversations(), store.turns())
        store.close()
    except Exception:
        process.stop()
        raise
    yield url, summary
    process.stop()


def open_page(browser, url: str, credentials: dict | None):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, http_credentials=credentials)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        answer = page.goto(f"{url}/report")
    except Exception:
        context.close()
        raise
    return context, page, answer, problems, requested


def test_with_the_token_every_section_renders_with_visible_charts_and_the_stores_figures(browser, report):
    url, summary = report
    context, page, answer, problems, requested = open_page(browser, url, {"username": "operator", "password": TOKEN})
    try:
        assert answer.status == 200
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "script-src" not in policy
        headings = page.locator("h2").all_inner_texts()
        assert headings == list(HEADINGS)
        charts = page.locator("img.chart")
        assert charts.count() >= 7  # escalations, drop-off, latency, by day, channel, intent, CSAT
        for index in range(charts.count()):
            chart = charts.nth(index)
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert box and box["width"] > 50 and box["height"] > 50, chart.get_attribute("alt")
            assert chart.evaluate("image => image.complete && image.naturalWidth > 0"), chart.get_attribute("alt")
        overview = re.sub(r"\s+", " ", page.locator("#overview").inner_text())
        assert f"Conversations {summary.conversations}" in overview and summary.conversations == 3
        assert f"{as_percent(summary.containment)} ({summary.resolved})" in overview
        assert f"Handed to a person {summary.handed_off}" in overview
        csat = re.sub(r"\s+", " ", page.locator("#csat").inner_text())
        assert f"Mean rating (1 to 5) {summary.csat_mean:.2f}" in csat and summary.csat_mean == 3.5
        assert f"Conversations rated {summary.csat_ratings}" in csat
        assert "double_charge" in page.locator("#escalations").inner_text()
        assert "utter_ask_login_email" in page.locator("#drop-off").inner_text()
        assert not problems, problems  # CSP violations are console errors too
        assert requested == [f"{url}/report"], requested  # nothing else is fetched
    finally:
        context.close()


def test_without_the_token_the_page_is_refused(browser, report):
    from playwright.sync_api import Error

    url, _ = report
    # No credentials, or the wrong password: the server answers 401 asking for HTTP Basic. Chromium then shows
    # the refusal, or (having nothing better to send) gives up on the navigation; never the report.
    for credentials in (None, {"username": "operator", "password": "not-the-token"}):
        try:
            context, page, answer, _, _ = open_page(browser, url, credentials)
        except Error as refused:
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(refused)
            continue
        try:
            assert answer.status == 401
            assert "Overview" not in page.content() and "operator's token" in page.inner_text("body")
        finally:
            context.close()
    refused = requests.get(f"{url}/report", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert "Overview" not in refused.text and "operator's token" in refused.text
