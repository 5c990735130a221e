"""`make run` as a shopper and an operator meet it: the launcher starts the real stack, a second run says
so, the widget and the REST webhook answer, the analytics consumer counts the conversation and serves the
report page to the operator's token only, every log line is JSON, and `make stop` leaves nothing behind."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import REPO, free_port
from tests.support.stack import MODEL, new_sender

MAKE_RUN_SENDER, BROKER_SENDER = new_sender(), new_sender()
REPORT_TOKEN = "make-run-report-token-0123456789"

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="needs a trained model: make test trains it first")


def launcher(*args: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "launcher", *args],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        **kwargs,
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("make-run")
    ports = {
        name: free_port()
        for name in (
            *("DEMOSHOP_PORT", "ACTIONS_PORT", "RASA_PORT", "WEBCHAT_PORT", "ACTIONS_METRICS_PORT"),
            *("RASA_METRICS_PORT", "DEMOSHOP_METRICS_PORT", "WEBCHAT_METRICS_PORT"),  # metrics on free ports too
            "ANALYTICS_METRICS_PORT",
            "ANALYTICS_PORT",
        )
    }
    endpoints = tmp / "endpoints.yml"
    # The action URL names the default port on purpose: the launcher must move it to ACTIONS_PORT.
    endpoints.write_text(
        'action_endpoint:\n  url: "http://127.0.0.1:5055/webhook"\n'
        "tracker_store:\n  type: conversation_stores.tracker_store.CachingSQLTrackerStore\n"
        f'  dialect: sqlite\n  db: "{tmp}/tracker.sqlite"\n'
        "lock_store:\n  type: in_memory\n"
        f'event_broker:\n  type: SQL\n  dialect: sqlite\n  db: "{tmp}/events.sqlite"\n'
    )
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "RASA_ENDPOINTS": str(endpoints),
        "DEMOSHOP_DATABASE_URL": f"sqlite:///{tmp}/shop.sqlite",
        "RASA_TELEMETRY_ENABLED": "false",
        "ANALYTICS_DATABASE_URL": f"sqlite:///{tmp}/analytics.sqlite",
        "ANALYTICS_POLL_SECONDS": "0.5",
        "REPORT_TOKEN": REPORT_TOKEN,
    }
    paths = ["--state-file", str(tmp / "run" / "stack.json"), "--log-dir", str(tmp / "logs")]
    out = open(tmp / "launcher.out", "w+")  # noqa: SIM115  (the launcher writes to it for the whole test)
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", "run", *paths],
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 400
    while "Chat with the assistant" not in (tmp / "launcher.out").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the launcher did not start the stack:\n" + (tmp / "launcher.out").read_text())
        time.sleep(0.5)
    state = json.loads((tmp / "run" / "stack.json").read_text())
    yield {"tmp": tmp, "env": env, "paths": paths, "proc": proc, "state": state, "ports": ports}
    if proc.poll() is None:
        launcher("stop", *paths, env=env)
        proc.wait(60)


def test_prints_the_urls_of_a_healthy_stack(running):
    printed = (running["tmp"] / "launcher.out").read_text()
    ports = running["ports"]
    assert f"http://127.0.0.1:{ports['WEBCHAT_PORT']}" in printed
    assert f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook" in printed
    assert set(running["state"]["services"]) == {"demoshop", "actions", "rasa", "webchat", "analytics"}
    assert f"http://127.0.0.1:{ports['ANALYTICS_PORT']}/report" in printed and "$REPORT_TOKEN" in printed
    assert REPORT_TOKEN not in printed


def test_the_widget_and_a_conversation_answer(running):
    ports = running["ports"]
    page = requests.get(f"http://127.0.0.1:{ports['WEBCHAT_PORT']}/", timeout=5)
    assert page.status_code == 200 and "<html" in page.text.lower()
    config = requests.get(f"http://127.0.0.1:{ports['WEBCHAT_PORT']}/config.js", timeout=5).text
    assert f"http://127.0.0.1:{ports['RASA_PORT']}" in config
    # The widget is served from another origin: Rasa must allow it (CORS), and only it.
    origin = f"http://127.0.0.1:{ports['WEBCHAT_PORT']}"
    reply = requests.post(
        f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": MAKE_RUN_SENDER, "message": "hi"},
        headers={"Origin": origin},
        timeout=60,
    )
    assert reply.status_code == 200 and reply.json(), reply.text
    assert reply.headers.get("Access-Control-Allow-Origin") == origin
    # The action server moved to ACTIONS_PORT although the endpoints file names 5055.
    order = requests.post(
        f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": MAKE_RUN_SENDER, "message": "where is my order 10001?"},
        timeout=60,
    )
    texts = " ".join(m.get("text", "") for m in order.json())
    assert "email address on your Larkspur account" in texts, texts  # the form's validation ran there


def test_the_sql_event_broker_records_the_conversation(running):
    requests.post(
        f"http://127.0.0.1:{running['ports']['RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": BROKER_SENDER, "message": "hello"},
        timeout=60,
    ).raise_for_status()
    with sqlite3.connect(running["tmp"] / "events.sqlite") as db:
        senders = {row[0] for row in db.execute("select sender_id from events")}
    assert f"rest:{BROKER_SENDER}" in senders


def test_the_analytics_consumer_runs_and_serves_the_report_to_the_operators_token_only(running):
    ports, paths = running["ports"], running["paths"]
    shown = launcher("status", *paths, env=running["env"])
    assert "analytics" in shown.stdout and str(running["state"]["services"]["analytics"]["pid"]) in shown.stdout
    sender = new_sender()
    for text in ("hello", "do you offer free shipping"):
        requests.post(
            f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        ).raise_for_status()
    report = f"http://127.0.0.1:{ports['ANALYTICS_PORT']}/report"
    assert requests.get(report, timeout=10).status_code == 401
    assert requests.get(report, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    deadline = time.monotonic() + 60
    while True:  # the consumer counts every half second; the page is cached for a few seconds
        page = requests.get(report, auth=("operator", REPORT_TOKEN), timeout=30)
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        with sqlite3.connect(running["tmp"] / "analytics.sqlite") as db:
            turns = db.execute("select count(*) from analytics_turns where text = 'do you offer free shipping'")
            counted = turns.fetchone()[0]
        if counted and '<section id="overview">' in page.text:
            break
        assert time.monotonic() < deadline, "the analytics consumer did not count the conversation"
        time.sleep(1)
    assert '<section id="csat">' in page.text
    # Its own /metrics: the events it counted, and a round that succeeded within the last minute.
    exported = requests.get(f"http://127.0.0.1:{ports['ANALYTICS_METRICS_PORT']}/metrics", timeout=10).text
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(exported)
        for sample in family.samples
        if sample.labels.get("source") == "sql"
    }
    assert samples["assistant_analytics_events_total"] > 0
    assert time.time() - samples["assistant_analytics_last_round_timestamp_seconds"] < 60


def test_make_report_renders_the_session_s_conversations(running):
    # As `make report` runs it over make run's SQL broker; a store of its own beside the running consumer's.
    sender = new_sender()
    requests.post(
        f"http://127.0.0.1:{running['ports']['RASA_PORT']}/webhooks/rest/webhook",
        json={"sender": sender, "message": "how long does delivery take?"},
        timeout=60,
    ).raise_for_status()
    tmp = running["tmp"]
    out = tmp / "report.html"
    store = f"sqlite:///{tmp}/report-store.sqlite"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "--database-url",
            store,
            "report",
            "--events-db",
            f"{tmp}/events.sqlite",
            "--out",
            str(out),
        ],
        cwd=REPO,
        env=running["env"],
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    html = out.read_text()
    assert '<section id="overview">' in html and "No conversations yet" not in html
    with sqlite3.connect(tmp / "report-store.sqlite") as db:
        (counted,) = db.execute("select count(*) from analytics_turns where text = 'how long does delivery take?'")
    assert counted[0] >= 1 and "<svg" in html  # the charts are drawn into the one file


def test_a_second_run_says_it_is_already_running(running):
    second = launcher("run", *running["paths"], env=running["env"])
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert running["proc"].poll() is None  # the first one is untouched


def test_every_log_line_is_json(running):
    logs = sorted((running["tmp"] / "logs").glob("*.log"))
    assert {p.stem for p in logs} == {"demoshop", "actions", "rasa", "webchat", "analytics"}
    for path in logs:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert lines, f"{path.name} is empty"
        bad = [line for line in lines if not _is_json_object(line)]
        assert not bad, f"{path.name} has non-JSON lines: {bad[:3]}"


def test_a_busy_port_is_named_instead_of_a_crash(running, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **running["env"],
            "WEBCHAT_PORT": str(port),
            "RASA_PORT": str(free_port()),
            "DEMOSHOP_PORT": str(free_port()),
            "ACTIONS_PORT": str(free_port()),
            "ANALYTICS_PORT": str(free_port()),
        }
        result = launcher("run", "--state-file", str(tmp_path / "stack.json"), "--log-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "WEBCHAT_PORT" in result.stderr


def test_stop_ends_every_process_and_frees_the_ports(running):
    pids = [svc["pid"] for svc in running["state"]["services"].values()]
    result = launcher("stop", *running["paths"], env=running["env"])
    assert result.returncode == 0 and "Stopped" in result.stdout
    running["proc"].wait(60)
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    for name in ("DEMOSHOP_PORT", "ACTIONS_PORT", "RASA_PORT", "WEBCHAT_PORT", "ANALYTICS_PORT"):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", running["ports"][name])) != 0, f"{name} still answers"
    assert not (running["tmp"] / "run" / "stack.json").exists()
    again = launcher("stop", *running["paths"], env=running["env"])
    assert "not running" in again.stdout


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
