"""`python -m privacy` finds, exports, deletes and expires whole conversations in the stores Rasa writes.

The conversations are written by Rasa's own SQL tracker store and SQL event broker into SQLite files, and the
commands run as `make` runs them, in a child process reading the databases from the environment.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from foundation.conversation_ref import conversation_ref
from tests.support.processes import REPO

DOMAIN = Domain.load(str(REPO / "domain.yml"))
DAY = 86400.0


def conversation(sender: str, customer: str | None, days_ago: float) -> DialogueStateTracker:
    """A conversation that ended `days_ago`, in which the shopper was verified as `customer` (or never)."""
    at = time.time() - days_ago * DAY
    events = [
        ActionExecuted("action_session_start", timestamp=at - 60),
        SessionStarted(timestamp=at - 59),
        ActionExecuted("action_listen", timestamp=at - 58),
        UserUttered(
            "where is my refund? my email is ana@example.com", {"name": "ask_refund_status"}, timestamp=at - 50
        ),
    ]
    if customer:
        events.append(SlotSet("customer_id", customer, timestamp=at - 40))
    events += [
        BotUttered("Your refund was paid on Monday.", timestamp=at - 30),
        ActionExecuted("action_listen", timestamp=at),
    ]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


@pytest.fixture
def stores(tmp_path):
    """Four conversations in both stores: C1001 recently, C1001 long ago, C2002 recently, one never verified."""
    tracker_db, events_db = tmp_path / "tracker.sqlite", tmp_path / "events.sqlite"
    store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tracker_db))
    broker = SQLEventBroker(dialect="sqlite", db=str(events_db))
    trackers = [
        conversation("rest:recent-c1001", "C1001", days_ago=2),
        conversation("rest:old-c1001", "C1001", days_ago=400),
        conversation("whatsapp:+31600000002", "C2002", days_ago=3),
        conversation("rest:anonymous-old", None, days_ago=500),
    ]
    loop = asyncio.new_event_loop()
    for tracker in trackers:
        loop.run_until_complete(store.save(tracker))
        for event in tracker.events:
            broker.publish({"sender_id": tracker.sender_id, **event.as_dict()})
    loop.close()
    store.engine.dispose()
    env = {
        "PRIVACY_TRACKER_DB_URL": f"sqlite:///{tracker_db}",
        "PRIVACY_EVENTS_DB_URL": f"sqlite:///{events_db}",
        "ANALYTICS_DATABASE_URL": f"sqlite:///{tmp_path / 'analytics.sqlite'}",
    }
    counted = run_module(env, "analytics", "consume", "--source", "sql", "--db", str(events_db), "--once")
    assert counted.returncode == 0, counted.stderr
    assert analytics_conversations(tmp_path / "analytics.sqlite") == 4
    return env, tracker_db, events_db


def privacy(env: dict, *args: str) -> subprocess.CompletedProcess:
    return run_module(env, "privacy", *args)


def run_module(env: dict, module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "CONVERSATION_REF_SECRET": "privacy-test-secret-0123456789abcdef", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def analytics_conversations(path) -> int:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM analytics_conversations")).scalar()
    engine.dispose()
    return int(found)


def senders(path) -> dict[str, int]:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = dict(connection.execute(sa.text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all())
    engine.dispose()
    return found


def test_export_holds_every_event_of_the_customers_conversations_and_nobody_elses(stores, tmp_path):
    env, _, _ = stores
    out = tmp_path / "export.json"
    result = privacy(env, "export", "--customer", "C1001", "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["customer"] == "C1001"
    assert [c["conversation"] for c in document["conversations"]] == ["rest:old-c1001", "rest:recent-c1001"]
    events = document["conversations"][1]["events"]
    assert [e["event"] for e in events] == ["action", "session_started", "action", "user", "slot", "bot", "action"]
    assert "ana@example.com" in events[3]["text"]  # the customer's own words, as kept
    assert "C2002" not in out.read_text() and "anonymous" not in out.read_text()


def test_delete_removes_the_customers_conversations_from_both_stores_and_names_them_by_reference(stores):
    env, tracker_db, events_db = stores
    dry = privacy(env, "delete", "--customer", "C1001", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 2 conversation(s)" in dry.stdout
    assert (
        set(senders(tracker_db))
        == set(senders(events_db))
        == {
            "rest:recent-c1001",
            "rest:old-c1001",
            "whatsapp:+31600000002",
            "rest:anonymous-old",
        }
    )
    result = privacy(env, "delete", "--customer", "C1001")
    assert result.returncode == 0, result.stderr
    assert "deleted 2 conversation(s)" in result.stdout and result.stdout.count(": 14 row(s)") == 2
    assert "rest:recent-c1001" not in result.stdout  # the ids themselves are not printed
    with_secret = "privacy-test-secret-0123456789abcdef"
    assert conversation_ref("rest:recent-c1001", with_secret) in result.stdout
    assert set(senders(tracker_db)) == set(senders(events_db)) == {"whatsapp:+31600000002", "rest:anonymous-old"}
    assert "analytics (conversations): 2 row(s)" in result.stdout
    assert analytics_conversations(tracker_db.parent / "analytics.sqlite") == 2


def test_purge_deletes_whole_conversations_past_the_retention_only(stores):
    env, tracker_db, events_db = stores
    result = privacy(env, "purge")
    assert result.returncode == 0, result.stderr
    assert "purge (older than 365 days): deleted 2 conversation(s)" in result.stdout
    kept = {"rest:recent-c1001": 7, "whatsapp:+31600000002": 7}
    assert senders(tracker_db) == senders(events_db) == kept  # the recent ones keep every row
    assert analytics_conversations(tracker_db.parent / "analytics.sqlite") == 2
    assert "deleted 0 conversation(s)" in privacy(env, "purge").stdout
    assert "deleted 2 conversation(s)" in privacy({**env, "CHAT_RETENTION_DAYS": "1"}, "purge").stdout


def test_bad_settings_and_missing_databases_are_clear(tmp_path):
    refused = privacy({"CHAT_RETENTION_DAYS": "0"}, "purge")
    assert refused.returncode == 2 and "CHAT_RETENTION_DAYS" in refused.stderr
    nothing = {"PRIVACY_TRACKER_DB_URL": f"sqlite:///{tmp_path / 'none.sqlite'}", "PRIVACY_EVENTS_DB_URL": ""}
    result = privacy(nothing, "delete", "--customer", "C1001")
    assert result.returncode == 0 and "deleted 0 conversation(s)" in result.stdout
