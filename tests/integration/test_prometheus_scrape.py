"""A real Prometheus (Debian's /usr/bin/prometheus) on the scrape configuration `make run-cluster` writes
(cluster/prometheus_config.py), pointed at a real demo shop, action server and analytics consumer started here
with their metrics ports: every target is up, the shop's request counter has the sample of a request made here,
the consumer's rounds are recent, and the project's rules are loaded and evaluated (no Rasa is scraped here, so
AssistantRasaDown goes pending; no action server is down, so AssistantActionServerDown stays quiet). Everything
is stopped by PID."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cluster.members import Member
from cluster.prometheus_config import write_scrape_config
from foundation.processes import ChildProcess, free_port
from tests.support.processes import start_demoshop

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
TOKEN = "prometheus-scrape-test-token-0123456789"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(PROMETHEUS).exists(), reason="prometheus is missing: `make system-deps` installs Debian's package"
    ),
]


@dataclass
class Scraped:
    """The running Prometheus (its base URL) and the metrics ports of the processes it scrapes."""

    url: str
    shop_url: str
    ports: dict[str, int]

    def query(self, promql: str) -> list[dict]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]["result"]


def wait_for(condition, timeout: float, what: str):
    """The first true value of `condition()` within `timeout` seconds; fails naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


def member(name: str, role: str, env: dict[str, str]) -> Member:
    """A cluster member as the plan describes it: only its role and environment matter to the scrape config."""
    return Member(name, role, [sys.executable], 0, lambda: True, env=env)


@pytest.fixture(scope="module")
def scraped(tmp_path_factory) -> Iterator[Scraped]:
    tmp = tmp_path_factory.mktemp("prometheus")
    ports = {"demoshop": free_port(), "actions": free_port(), "analytics": free_port()}
    started: list[ChildProcess] = []
    try:
        shop, shop_url = start_demoshop(tmp, env={"DEMOSHOP_METRICS_PORT": str(ports["demoshop"])})
        started.append(shop)
        action_port = free_port()
        actions = ChildProcess(
            "actions",
            [sys.executable, "-m", "actions"],
            {
                "ACTIONS_PORT": str(action_port),
                "ACTIONS_METRICS_PORT": str(ports["actions"]),
                "ACTION_SERVER_TOKEN": TOKEN,
                "DEMOSHOP_URL": shop_url,
                "DEMOSHOP_API_KEY": "test-key",
            },
            tmp / "actions.log",
        )
        started.append(actions)
        actions.wait_http(f"http://127.0.0.1:{action_port}/health", timeout=90)
        # The analytics consumer's counting loop on an SQL broker nobody has written to yet: rounds of 0 events.
        analytics = ChildProcess(
            "analytics",
            [sys.executable, "-m", "analytics", "consume", "--source", "sql", "--db", str(tmp / "events.sqlite")],
            {
                "ANALYTICS_DATABASE_URL": f"sqlite:///{tmp / 'analytics.sqlite'}",
                "ANALYTICS_METRICS_PORT": str(ports["analytics"]),
                "ANALYTICS_POLL_SECONDS": "0.5",
            },
            tmp / "analytics.log",
        )
        started.append(analytics)
        analytics.wait_http(f"http://127.0.0.1:{ports['analytics']}/metrics", timeout=60)
        plan = [
            member("demoshop", "demoshop", {"DEMOSHOP_METRICS_PORT": str(ports["demoshop"])}),
            member("actions-1", "actions", {"ACTIONS_METRICS_PORT": str(ports["actions"])}),
            member("analytics", "analytics", {"ANALYTICS_METRICS_PORT": str(ports["analytics"])}),
        ]
        config = write_scrape_config(plan, tmp / "prometheus.yml")
        # Scrape and evaluate every second, so the test waits seconds, not the 15 s of the real configuration.
        config.write_text(config.read_text().replace("_interval: 15s", "_interval: 1s"))
        web = free_port()
        prometheus = ChildProcess(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web}",
            ],
            log_path=tmp / "prometheus.log",
        )
        started.append(prometheus)
        url = f"http://127.0.0.1:{web}"
        prometheus.wait_http(f"{url}/-/ready", timeout=60)
        yield Scraped(url, shop_url, ports)
    finally:
        for service in reversed(started):
            service.stop()


def test_every_target_is_up(scraped):
    def all_up():
        results = scraped.query("up")
        jobs = {r["metric"]["job"]: r["value"][1] for r in results}
        return results if jobs == {"demoshop": "1", "actions": "1", "analytics": "1"} else None

    results = wait_for(all_up, 60, "up == 1 for the demoshop, actions and analytics jobs")
    assert {(r["metric"]["member"], r["metric"]["instance"]) for r in results} == {
        ("demoshop", f"127.0.0.1:{scraped.ports['demoshop']}"),
        ("actions-1", f"127.0.0.1:{scraped.ports['actions']}"),
        ("analytics", f"127.0.0.1:{scraped.ports['analytics']}"),
    }
    targets = requests.get(f"{scraped.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert {t["health"] for t in targets} == {"up"}, targets


def test_a_request_to_the_shop_is_counted_in_prometheus(scraped):
    answer = requests.get(
        f"{scraped.shop_url}/v1/customers/C1001", headers={"Authorization": "Bearer test-key"}, timeout=10
    )
    assert answer.status_code == 200
    query = 'sum(assistant_shop_requests_total{job="demoshop",route="/v1/customers/<customer_id>",status="200"})'

    def counted():
        results = scraped.query(query)
        return results if results and float(results[0]["value"][1]) >= 1 else None

    wait_for(counted, 30, query)
    # The action server's own process metrics are there too (its assistant_* series appear with their first call).
    assert scraped.query('process_start_time_seconds{job="actions"}')


def test_the_analytics_consumer_s_rounds_are_scraped(scraped):
    query = 'time() - assistant_analytics_last_round_timestamp_seconds{job="analytics",source="sql"}'

    def recent():
        results = scraped.query(query)
        return results if results and float(results[0]["value"][1]) < 30 else None

    wait_for(recent, 30, f"{query} < 30 s: the consumer's rounds succeed and are scraped")
    assert not scraped.query('assistant_analytics_failed_rounds_total{job="analytics"} > 0')


def test_the_rules_are_loaded_and_evaluated_on_what_is_scraped(scraped):
    groups = requests.get(f"{scraped.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {g["name"] for g in groups} == {"larkspur-records", "larkspur-alerts"}

    def rasa_down_and_actions_quiet():
        # One scrape of the action server that misses its 1 s timeout on a busy machine makes
        # AssistantActionServerDown pending until the next good scrape, so the test waits for an evaluation
        # that shows both: Rasa missing, the action server present.
        alerts = requests.get(f"{scraped.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        names = {a["labels"]["alertname"] for a in alerts}
        return alerts if "AssistantRasaDown" in names and "AssistantActionServerDown" not in names else None

    alerts = wait_for(
        rasa_down_and_actions_quiet,
        60,
        "AssistantRasaDown pending (no Rasa replica is scraped here) and AssistantActionServerDown quiet",
    )
    # The consumer's rounds succeed, so the rule on their age stays quiet.
    assert "AssistantAnalyticsStalled" not in {a["labels"]["alertname"] for a in alerts}
