"""`python -m privacy` finds, exports, deletes and expires whole conversations in the stores Rasa writes.

The conversations are written by Rasa's own SQL tracker store and SQL event broker into SQLite files, and the
commands run as `make` runs them, in a child process reading the databases from the environment. The
helpdesk tickets a customer's export holds and their delete erases are the real demo shop's (the `shop`
fixture, on SQLite and on PostgreSQL); the tests that are not about tickets leave the helpdesk out.
"""

from __future__ import annotations

import asyncio
import json
import secrets
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
from foundation.processes import free_port
from tests.conftest import API_KEY, ShopApi
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
        "PRIVACY_TICKETS": "false",  # the tests of tickets point it at a demo shop
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
    nothing = {
        "PRIVACY_TRACKER_DB_URL": f"sqlite:///{tmp_path / 'none.sqlite'}",
        "PRIVACY_EVENTS_DB_URL": "",
        "PRIVACY_TICKETS": "false",
    }
    result = privacy(nothing, "delete", "--customer", "C1001")
    assert result.returncode == 0 and "deleted 0 conversation(s)" in result.stdout


def with_helpdesk(env: dict, shop: ShopApi) -> dict:
    """The commands' environment with the tickets reached in this demo shop."""
    return {**env, "PRIVACY_TICKETS": "true", "DEMOSHOP_URL": shop.base, "DEMOSHOP_API_KEY": API_KEY}


def open_ticket(shop: ShopApi, customer: str | None, said: str) -> int:
    """A handoff's ticket for `customer` whose transcript and summary hold what the shopper `said`."""
    body = {
        "queue": "refunds",
        "subject": "Where is my refund",
        "summary": f"The shopper said: {said}",
        "transcript": [{"sender": "user", "text": said}, {"sender": "bot", "text": "Let me find a colleague."}],
        "metadata": {"reason": "customer_request", "slots": {"new_contact": said}},
        "customer_id": customer,
        "conversation_id": f"rest:{secrets.token_urlsafe(24)}",
    }
    answer = shop.post("/v1/tickets", json=body, key=f"privacy-{secrets.token_hex(8)}")
    assert answer.status_code == 201, answer.text
    shop.post(f"/v1/tickets/{answer.json()['id']}/messages", json={"author": "agent", "body": f"Re: {said}"})
    return answer.json()["id"]


def test_an_export_holds_the_customers_tickets_with_their_messages_and_nobody_elses(stores, shop, tmp_path):
    env, _, _ = stores
    mine = [open_ticket(shop, "C1001", "call me on 06 1234 5678"), open_ticket(shop, "C1001", "anna@example.com")]
    theirs = open_ticket(shop, "C2002", "someone else's words")
    out = tmp_path / "export.json"
    result = privacy(with_helpdesk(env, shop), "export", "--customer", "C1001", "--out", str(out))
    assert result.returncode == 0, result.stderr
    tickets = {t["id"]: t for t in json.loads(out.read_text())["tickets"]}
    assert set(mine) <= set(tickets) and theirs not in tickets
    assert all(t["customer_id"] == "C1001" for t in tickets.values())
    assert tickets[mine[0]]["transcript"][0]["text"] == "call me on 06 1234 5678"
    assert tickets[mine[0]]["messages"][0]["body"] == "Re: call me on 06 1234 5678"


def test_a_delete_erases_the_customers_tickets_names_them_by_number_and_a_dry_run_erases_nothing(stores, shop):
    env, _, _ = stores
    mine = open_ticket(shop, "C1001", "I live at Keizersgracht 123")
    theirs = open_ticket(shop, "C2002", "I live at Oudegracht 12")
    env = with_helpdesk(env, shop)
    dry = privacy(env, "delete", "--customer", "C1001", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"ticket #{mine}" in dry.stdout and "would erase" in dry.stdout
    assert shop.get(f"/v1/tickets/{mine}").json()["customer_id"] == "C1001"
    result = privacy(env, "delete", "--customer", "C1001")
    assert result.returncode == 0, result.stderr
    assert f"ticket #{mine}" in result.stdout and f"ticket #{theirs}" not in result.stdout
    assert "deleted 2 conversation(s)" in result.stdout
    erased = shop.get(f"/v1/tickets/{mine}").json()
    assert erased["erased_at"] and erased["customer_id"] is None and erased["conversation_id"] is None
    assert erased["transcript"] == [] and erased["metadata"] == {} and "Keizersgracht" not in json.dumps(erased)
    assert [m["body"] for m in erased["messages"]] == ["[erased]"]
    assert erased["queue"] == "refunds" and erased["status"] == "open"  # what the helpdesk counts with stays
    assert "Oudegracht" in shop.get(f"/v1/tickets/{theirs}").text
    assert mine not in [t["id"] for t in shop.get("/v1/tickets", params={"customer_id": "C1001"}).json()["tickets"]]
    again = privacy(env, "delete", "--customer", "C1001")
    assert again.returncode == 0 and "erased 0 ticket(s)" in again.stdout


def test_a_helpdesk_that_does_not_answer_stops_the_delete_before_anything_is_deleted(stores):
    env, tracker_db, _ = stores
    down = {**env, "PRIVACY_TICKETS": "true", "HELPDESK_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    result = privacy({**down, "BACKEND_MAX_ATTEMPTS": "1"}, "delete", "--customer", "C1001")
    assert result.returncode == 1 and "the helpdesk did not answer" in result.stderr
    assert "rest:recent-c1001" in senders(tracker_db)


def test_an_erased_tickets_replayed_creation_answers_with_the_erased_ticket(shop):
    key = f"privacy-{secrets.token_hex(8)}"
    body = {"queue": "general", "subject": "Help", "summary": "My email is anna@example.com", "customer_id": "C1001"}
    created = shop.post("/v1/tickets", json=body, key=key).json()
    erased = shop.post(f"/v1/tickets/{created['id']}/erasure", json={}, key=f"{key}-erase")
    assert erased.status_code == 200 and erased.json()["summary"] == "[erased]"
    replayed = shop.post("/v1/tickets", json=body, key=key)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json()["id"] == created["id"] and "anna@example.com" not in replayed.text
    assert shop.post("/v1/tickets/999999999/erasure", json={}).status_code == 404
