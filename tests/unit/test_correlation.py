"""foundation/correlation.py: which incoming ids are kept, how the id follows the work (tasks, threads, the action
server's calls), the log filter that writes it into every JSON line of a real process, and the demo shop's ticket
table gaining its column."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from actions.backends.request_context import current_request_id, request_id
from actions.server import message_correlation_id
from demoshop.db import Database
from foundation import REPO, correlation

# --- which ids are kept ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["abcdefgh", "A" * 128, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "trace.me-123_ok", "12345678"],
)
def test_a_valid_incoming_id_is_kept(value):
    assert correlation.valid(value)
    assert correlation.accept(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "abcdefg",  # 7 characters
        "A" * 129,
        "has space",
        "semi;colon-0001",
        "rest:conversation-id",
        "ünïcode-0001",
        "line\nbreak-0001",
        12345678,
        ["abcdefgh"],
        "4111111111111111",  # a card number: the log masking would change it, so it is not searchable as sent
        "123456-looks-like-a-code",  # so would a one-time code at its start
    ],
)
def test_an_invalid_incoming_id_is_ignored_and_a_new_one_given(value):
    assert not correlation.valid(value)
    replaced = correlation.accept(value)
    assert replaced != value and correlation.valid(replaced)
    assert len(replaced) == 32 and int(replaced, 16) >= 0  # uuid4 hex


def test_new_ids_are_distinct_uuid4_hex():
    ids = {correlation.new() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and i == i.lower() and int(i, 16) >= 0 for i in ids)


def test_the_id_of_a_message_is_read_from_its_metadata_only_when_valid():
    assert correlation.from_metadata({"correlation_id": "abcdefgh-1"}) == "abcdefgh-1"
    assert correlation.from_metadata({"correlation_id": "bad id"}) is None
    assert correlation.from_metadata({"correlation_id": 42}) is None
    assert correlation.from_metadata({}) is None
    assert correlation.from_metadata(None) is None


# --- how the id follows the work ---------------------------------------------------------------------------------


def test_bound_sets_the_id_for_the_block_and_restores_the_one_before():
    assert correlation.get() is None
    with correlation.bound("outer-0001"):
        with correlation.bound("inner-0001"):
            assert correlation.get() == "inner-0001"
        assert correlation.get() == "outer-0001"
    assert correlation.get() is None


def test_set_and_reset_pair_up():
    token = correlation.set("manual-0001")
    assert correlation.get() == "manual-0001"
    correlation.reset(token)
    assert correlation.get() is None


def test_tasks_and_threads_started_inside_a_block_keep_its_id_after_it_ends():
    """A channel starts the turn as a background task and returns: the task must still see the message's id."""

    async def main() -> tuple[str | None, str | None, str | None]:
        gate = asyncio.Event()

        async def turn() -> str | None:
            await gate.wait()
            return correlation.get()

        with correlation.bound("turn-task-0001"):
            task = asyncio.create_task(turn())
            in_thread = await asyncio.to_thread(correlation.get)
        outside = correlation.get()
        gate.set()
        return await task, in_thread, outside

    assert asyncio.run(main()) == ("turn-task-0001", "turn-task-0001", None)


def test_the_backend_calls_forward_the_bound_id_and_a_valid_fallback_only_outside_a_message():
    with correlation.bound("message-0001"), request_id("conv-ref-12"):
        assert current_request_id() == "message-0001"  # an action run keeps the message's id
    with request_id("conv-ref-12") as given:
        assert given == "conv-ref-12" and current_request_id() == "conv-ref-12"
    with request_id("bad id") as replaced:
        assert correlation.valid(replaced) and replaced != "bad id"
    assert correlation.get() is None
    assert current_request_id() != current_request_id()  # a lone call outside any message: a fresh id each


def call_with(latest_message: object) -> dict:
    return {"next_action": "action_x", "tracker": {"sender_id": "rest:x", "latest_message": latest_message}}


def test_the_action_server_takes_the_id_from_the_trackers_latest_message():
    assert message_correlation_id(call_with({"metadata": {"correlation_id": "from-rasa-0001"}})) == "from-rasa-0001"
    for latest in ({"metadata": {"correlation_id": "no good"}}, {"metadata": "x"}, {}, None, "text"):
        made = message_correlation_id(call_with(latest))
        assert correlation.valid(made) and made not in ("no good", "x")


# --- the log filter ----------------------------------------------------------------------------------------------


def test_the_filter_adds_the_current_id_and_keeps_an_explicit_one():
    check = correlation.CorrelationFilter()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert check.filter(plain) and plain.correlation_id is None
    explicit = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    explicit.correlation_id = "explicit-0001"
    with correlation.bound("current-0001"):
        inside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        assert check.filter(inside) and check.filter(explicit)
    assert inside.correlation_id == "current-0001" and explicit.correlation_id == "explicit-0001"


LOGGING_CHILD = """
import logging
from foundation import correlation
from foundation.logging import configure_json_logging
configure_json_logging("INFO")
log = logging.getLogger("shop")
log.info("before any message")
with correlation.bound("4111111111111111x-a1"):
    log.info("during a message")
    log.info("explicit wins", extra={"correlation_id": "explicit-0001"})
log.info("after it")
"""


def test_every_json_line_of_a_process_has_the_key_with_the_current_id():
    done = subprocess.run([sys.executable, "-c", LOGGING_CHILD], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["message"], r["correlation_id"]) for r in records] == [
        ("before any message", None),
        ("during a message", "4111111111111111x-a1"),  # added after the masking: exactly as sent
        ("explicit wins", "explicit-0001"),
        ("after it", None),
    ]


@pytest.mark.parametrize(
    "value",
    [
        "msg-7a51c90eaf234550bfd781f3ad36af2d",  # the postcode detector took `ad36af` out of it
        "ddaf11df-a8a1-4a99-a911-720e41161e53",  # a UUID as clients send it: `af11df` read as a postcode
    ],
)
def test_a_valid_id_in_a_records_own_field_is_written_as_it_is_and_its_text_still_masked(value):
    from foundation.logging import RedactingFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call me on +31 6 1234 5678", (), None)
    record.correlation_id = value
    assert RedactingFilter().filter(record)
    assert record.correlation_id == value
    assert "1234 5678" not in record.getMessage()


# --- the ticket keeps it ---------------------------------------------------------------------------------------


def test_a_shop_database_made_before_tickets_had_the_column_gets_it_at_the_next_start(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite'}")
    db.create_schema()
    with db.engine.begin() as conn:  # the tickets table as it was before the correlation id
        conn.execute(text("ALTER TABLE tickets DROP COLUMN correlation_id"))
    assert "correlation_id" not in {c["name"] for c in inspect(db.engine).get_columns("tickets")}
    db.create_schema()
    db.create_schema()  # and once it is there, nothing more happens
    assert "correlation_id" in {c["name"] for c in inspect(db.engine).get_columns("tickets")}
    db.dispose()
