"""`make run-cluster` for real: `python -m cluster run` starts PostgreSQL, Redis, RabbitMQ, the demo shop, an action
server, two Rasa replicas and nginx on loopback; a conversation through nginx survives a replica killed while
it answers, its events reach the tracker store and the event broker, whose analytics consumer counts them into
the cluster's `analytics` database and serves the report page, `status` lists every process and `stop` ends them
all by PID."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from cluster.backing import render_site
from cluster.plan import NGINX_TEMPLATE
from cluster.runner import StateFile
from foundation.local_secrets import local_secret
from foundation.processes import ChildProcess, free_port, http_ready, pid_alive, port_in_use
from tests.support.processes import REPO

pytestmark = pytest.mark.slow

MODEL = REPO / "models" / "larkspur.tar.gz"


def free_base(span: int = 80) -> int:
    for _ in range(50):
        base = random.randrange(20000, 32000 - span)
        if not any(port_in_use("127.0.0.1", base + offset) for offset in range(span)):
            return base
    raise RuntimeError("no free port range")


def cluster_cli(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cluster", *args, "--state-file", str(state)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def cluster():
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` first (make test does)")
    # Not pytest's tmp dir: PostgreSQL runs as `postgres` and must reach its data directory inside this one.
    root = Path(tempfile.mkdtemp(prefix="larkspur-cluster-"))
    os.chmod(root, 0o755)
    state_path = root / "cluster.json"
    env = {
        "CLUSTER_PORT": str(free_port()),
        "CLUSTER_INTERNAL_PORT": str(free_base()),
        "CLUSTER_RASA_REPLICAS": "2",
        "CLUSTER_ACTION_SERVERS": "1",
    }
    runner = ChildProcess(
        "cluster",
        [
            sys.executable,
            "-m",
            "cluster",
            "run",
            "--state-file",
            str(state_path),
            "--root",
            str(root / "data"),
            "--log-dir",
            str(root / "logs"),
        ],
        env,
        root / "runner.log",
    )
    state_file = StateFile(state_path)
    try:
        runner.wait_until(lambda: (state_file.read() or {}).get("ready"), 600, condition="ready", interval=1)
    except Exception:
        runner.stop(timeout=60)
        raise
    yield runner, state_file, root
    cluster_cli(state_path, "stop")
    runner.stop(timeout=60)
    shutil.rmtree(root, ignore_errors=True)


def say(url: str, sender: str, text: str) -> list[dict]:
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_nginx_template_renders_to_a_configuration_nginx_accepts(tmp_path):
    site = tmp_path / "cluster.conf"
    site.write_text(
        render_site(
            NGINX_TEMPLATE.read_text(), listen=free_port(), rasa=[1, 2], actions_listen=free_port(), actions=[3]
        )
    )
    from cluster.backing import nginx_main_conf

    (tmp_path / "nginx.conf").write_text(nginx_main_conf(tmp_path, site))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert "server 127.0.0.1:2 " in site.read_text() and "${" not in site.read_text().split("upstream", 1)[1]


def test_status_lists_every_process_with_its_role_and_pid(cluster):
    _, state_file, _ = cluster
    shown = cluster_cli(state_file.path, "status")
    assert shown.returncode == 0, shown.stderr
    state = state_file.read()
    for name in ("postgres", "redis", "rabbitmq", "demoshop", "actions-1", "rasa-1", "rasa-2", "analytics", "nginx"):
        member = state["members"][name]
        assert pid_alive(member["pid"])
        assert f"{name} " in shown.stdout and str(member["pid"]) in shown.stdout


def test_each_process_with_metrics_serves_them_on_its_own_port_which_status_shows(cluster):
    _, state_file, _ = cluster
    shown = cluster_cli(state_file.path, "status").stdout
    members = state_file.read()["members"]
    families = {
        "demoshop": "assistant_shop_requests_total",
        "actions-1": "assistant_action_seconds",
        "rasa-1": "assistant_turn_seconds",
        "rasa-2": "assistant_turn_seconds",
    }
    served = {name: members[name]["metrics"] for name in families}
    assert len(set(served.values())) == 4 and all(served.values()), served
    for name, address in served.items():
        assert f"{address} " in shown, shown
        page = requests.get(f"http://{address}/metrics", timeout=10)
        assert page.status_code == 200 and f"# TYPE {families[name]} " in page.text, name


def stored_user_texts(state: dict, sender: str) -> list[str]:
    db = psycopg2.connect(host="127.0.0.1", port=state["postgres_port"], user="postgres", dbname="assistant")
    with db, db.cursor() as cursor:
        cursor.execute(
            "SELECT data FROM events WHERE sender_id = %s AND type_name = 'user' ORDER BY id", (f"rest:{sender}",)
        )
        stored = [json.loads(data)["text"] for (data,) in cursor.fetchall()]
    db.close()
    return stored


def wait_for_restart(state_file: StateFile, name: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while state_file.read()["members"][name]["restarts"] < count:  # the runner starts the dead replica again
        assert time.monotonic() < deadline, f"{name} was not started again"
        time.sleep(0.5)


def test_a_conversation_through_nginx_survives_a_replica_killed_mid_way(cluster):
    _, state_file, _ = cluster
    state = state_file.read()
    url = state["url"]
    sender = secrets.token_urlsafe(24)
    texts = ["hello", "do you offer free shipping", "how do i return an item", "can I pay with a gift card", "thanks"]
    for text in texts[:2]:
        assert say(url, sender, text)
    os.killpg(state["members"]["rasa-1"]["pid"], signal.SIGKILL)
    for text in texts[2:]:  # half of them would go to rasa-1: nginx sends them to rasa-2
        assert say(url, sender, text), f"no answer to {text!r} after rasa-1 was killed"
    assert stored_user_texts(state, sender) == texts  # every turn once, in order, whichever replica answered it
    wait_for_restart(state_file, "rasa-1", 1)


def test_turns_in_flight_on_a_killed_replica_are_answered_by_another(cluster):
    """Answered once and stored once, wherever the kill lands: a turn the killed replica had stored is found by
    nginx's retry under the same X-Request-ID and answered from the store (rasa_runtime/idempotent_turns.py)."""
    _, state_file, _ = cluster
    state = state_file.read()
    url = state["url"]
    before = state["members"]["rasa-2"]["restarts"]
    deadline = time.monotonic() + 300  # rasa-1, killed by the test before, serves again (nginx routes to it)
    while not http_ready(
        f"http://127.0.0.1:{state_file.read()['members']['rasa-1']['port']}/status", json_key="model_file"
    ):
        assert time.monotonic() < deadline, "rasa-1 did not come back"
        time.sleep(1)
    time.sleep(2)  # the runner's next round puts it back into nginx's rotation
    senders = [secrets.token_urlsafe(24) for _ in range(4)]
    answers: dict[str, int] = {}

    def send(sender: str) -> None:
        try:
            answer = requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": "how long does delivery take?"},
                timeout=30,
            )
            answers[sender] = answer.status_code if answer.json() else 0
        except requests.RequestException:
            answers[sender] = 0

    threads = [threading.Thread(target=send, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    os.killpg(state["members"]["rasa-2"]["pid"], signal.SIGKILL)
    for thread in threads:
        thread.join(40)
    wait_for_restart(state_file, "rasa-2", before + 1)
    assert answers == {sender: 200 for sender in senders}
    for sender in senders:
        assert stored_user_texts(state, sender) == ["how long does delivery take?"]


def analytics_counts(state: dict) -> tuple[int, int]:
    """The cluster's analytics database: events counted, and turns of the text the tests send."""
    db = psycopg2.connect(host="127.0.0.1", port=state["postgres_port"], user="postgres", dbname="analytics")
    with db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM analytics_counted_events")
        (events,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM analytics_turns WHERE text = %s", (ANALYTICS_TEXT,))
        (turns,) = cursor.fetchone()
    db.close()
    return int(events), int(turns)


ANALYTICS_TEXT = "do you ship to belgium"


def test_the_replicas_publish_every_event_to_rabbitmq(cluster):
    # The analytics consumer is the queue's reader (it takes what it counts off the queue), so a turn's events
    # reaching the broker show as new events counted from it.
    _, state_file, _ = cluster
    state = state_file.read()
    before, _ = analytics_counts(state)
    say(state["url"], secrets.token_urlsafe(24), "hello")
    deadline = time.monotonic() + 30
    while analytics_counts(state)[0] <= before:  # a turn's events: user, action, bot, ...
        assert time.monotonic() < deadline, "no event reached the broker's queue"
        time.sleep(0.5)


def test_the_clusters_analytics_consumer_counts_the_conversation_and_serves_the_report(cluster):
    _, state_file, _ = cluster
    state = state_file.read()
    member = state["members"]["analytics"]
    assert member["role"] == "analytics" and pid_alive(member["pid"])
    shown = cluster_cli(state_file.path, "status").stdout
    assert "analytics " in shown and str(member["pid"]) in shown
    _, before = analytics_counts(state)
    sender = secrets.token_urlsafe(24)
    say(state["url"], sender, "hello")
    say(state["url"], sender, ANALYTICS_TEXT)
    deadline = time.monotonic() + 60
    while analytics_counts(state)[1] <= before:
        assert time.monotonic() < deadline, "the analytics consumer did not count the conversation"
        time.sleep(0.5)
    report = state["report_url"]
    assert requests.get(report, timeout=10).status_code == 401
    page = requests.get(report, auth=("operator", local_secret("REPORT_TOKEN")), timeout=60)
    assert page.status_code == 200 and '<section id="overview">' in page.text


def test_stop_ends_every_process_by_pid(cluster):
    runner, state_file, _ = cluster
    pids = [m["pid"] for m in state_file.read()["members"].values()]
    stopped = cluster_cli(state_file.path, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped the cluster" in stopped.stdout
    assert not [pid for pid in pids if pid_alive(pid)]
    assert runner.proc.wait(30) == 0
    assert cluster_cli(state_file.path, "status").returncode == 3
