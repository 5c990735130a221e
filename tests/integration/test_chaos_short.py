"""`make chaos`, short: two faults under load through the cluster's nginx, each held a few seconds. No answered
turn is missing from the tracker store, no cancellation is refunded twice, and with every action server dead every
message gets an answer (the apology and the offer of a person) and the cluster recovers within 10 s. With a Rasa
replica killed the same is expected, and known to fail when a confirmation was in flight on it (see the mark)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.slow

SHORT = {
    "CHAOS_BEFORE_SECONDS": "3",
    "CHAOS_FAULT_SECONDS": "8",
    "CHAOS_AFTER_SECONDS": "6",
    "CHAOS_SHOPPERS": "3",
    "CHAOS_FAULTS": "actions-all-kill,rasa-kill",
}


@pytest.fixture(scope="module")
def chaos_run():
    # Not pytest's tmp dir: PostgreSQL runs as `postgres` and must reach its data directory inside this one.
    root = Path(tempfile.mkdtemp(prefix="larkspur-chaos-"))
    os.chmod(root, 0o755)
    out = root / "chaos.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaos",
            "--out",
            str(out),
            "--root",
            str(root / "run"),
            "--log-dir",
            str(root / "logs"),
        ],
        cwd=REPO,
        env={**os.environ, **SHORT},
        capture_output=True,
        text=True,
        timeout=420,
    )
    yield finished, json.loads(out.read_text()) if out.exists() else None
    shutil.rmtree(root, ignore_errors=True)


def test_the_run_prints_a_row_per_fault(chaos_run):
    finished, result = chaos_run
    assert result is not None, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert [row["fault"] for row in result["rows"]] == ["actions-all-kill", "rasa-kill"]
    assert "| kill -9 of a Rasa replica |" in finished.stdout
    assert "| kill -9 of every action server |" in finished.stdout


def row(result: dict, fault: str) -> dict:
    return next(row for row in result["rows"] if row["fault"] == fault)


def test_no_fault_loses_an_answered_turn_or_doubles_a_cancellation(chaos_run):
    finished, result = chaos_run
    assert result is not None, finished.stdout[-3000:] + finished.stderr[-3000:]
    for found in result["rows"]:
        assert found["sent"] > 20, found
        assert found["events_lost"] == 0, found
        assert found["duplicate_mutations"] == 0, found


def test_with_every_action_server_dead_every_message_is_answered_and_it_recovers_within_10_s(chaos_run):
    _, result = chaos_run
    found = row(result, "actions-all-kill")
    assert found["unanswered"] == 0, found
    assert found["recovery_s"] <= 10, found


def test_with_a_rasa_replica_killed_every_message_is_answered_and_it_recovers_within_10_s(chaos_run):
    finished, result = chaos_run
    found = row(result, "rasa-kill")
    assert found["unanswered"] == 0, found
    assert found["recovery_s"] <= 10, found
    assert finished.returncode == 0, finished.stdout[-3000:]


def test_with_every_action_server_dead_the_shopper_hears_the_apology(chaos_run):
    _, result = chaos_run
    # not silence: "something went wrong on our side" and the offer of a person
    assert row(result, "actions-all-kill")["apologies"] > 0
