"""The scrape configuration `make run-cluster` writes (cluster/prometheus_config.py): every Rasa replica, action
server, the demo shop and the analytics consumer on the metrics port the plan gives it, under the job names the
alert rules use, and a file promtool accepts with the project's rule files."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from cluster.members import Member
from cluster.plan import cluster_plan
from cluster.prometheus_config import RULE_FILES, metrics_port, scrape_config, scrape_targets, write_scrape_config
from cluster.settings import ClusterSettings

PROMTOOL = shutil.which("promtool")


def settings(**env: str) -> ClusterSettings:
    return ClusterSettings.from_env({"CLUSTER_INTERNAL_PORT": "21000", **env})


def member(name: str, role: str, env: dict[str, str]) -> Member:
    return Member(name, role, [sys.executable, "-c", "pass"], 1, lambda: True, env=env)


def jobs_of(text: str) -> dict[str, dict[str, str]]:
    """job -> {member: address} from a scrape configuration's text."""
    config = yaml.safe_load(text)
    return {
        job["job_name"]: {static["labels"]["member"]: static["targets"][0] for static in job["static_configs"]}
        for job in config["scrape_configs"]
    }


def test_every_replica_the_shop_and_the_analytics_consumer_are_scraped_on_their_own_metrics_ports(tmp_path):
    plan = cluster_plan(settings(CLUSTER_RASA_REPLICAS="3", CLUSTER_ACTION_SERVERS="2"), tmp_path)
    jobs = jobs_of(scrape_config(plan, environ={}))
    assert set(jobs) == {"rasa", "actions", "demoshop", "analytics"}
    assert list(jobs["rasa"]) == ["rasa-1", "rasa-2", "rasa-3"]
    assert list(jobs["actions"]) == ["actions-1", "actions-2"]
    for m in plan:
        if m.role == "actions":
            assert jobs["actions"][m.name] == f"127.0.0.1:{m.env['ACTIONS_METRICS_PORT']}"
    addresses = [address for job in jobs.values() for address in job.values()]
    assert jobs["analytics"] == {"analytics": f"127.0.0.1:{settings().internal('analytics-metrics')}"}
    assert len(set(addresses)) == len(addresses) == 7
    serving_ports = {m.port for m in plan}
    assert not {int(a.rsplit(":", 1)[1]) for a in addresses} & serving_ports  # metrics never on a serving port


def test_the_rules_are_the_projects_files_by_absolute_path(tmp_path):
    config = yaml.safe_load(scrape_config(cluster_plan(settings(), tmp_path), environ={}))
    assert config["rule_files"] == [str(path) for path in RULE_FILES]
    assert all(path.is_absolute() and path.exists() for path in RULE_FILES)


def test_a_port_comes_from_the_plan_then_the_environment_then_the_default():
    rasa = member("rasa-1", "rasa", {"RASA_METRICS_PORT": "19106"})
    shop = member("demoshop", "demoshop", {})
    assert metrics_port(rasa, {"RASA_METRICS_PORT": "1"}) == 19106
    assert metrics_port(shop, {"DEMOSHOP_METRICS_PORT": "19107"}) == 19107
    assert metrics_port(shop, {}) == 9107
    assert metrics_port(member("nginx", "nginx", {}), {}) is None


def test_a_member_with_its_metrics_off_and_a_process_without_metrics_are_left_out():
    plan = [
        member("actions-1", "actions", {"ACTIONS_METRICS_PORT": "0"}),
        member("actions-2", "actions", {"ACTIONS_METRICS_PORT": "19111"}),
        member("redis", "redis", {}),
        member("shop-gate", "fault-gate", {}),
    ]
    assert [(t.job, t.member, t.address) for t in scrape_targets(plan, {})] == [
        ("actions", "actions-2", "127.0.0.1:19111")
    ]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is missing: `make system-deps` installs Debian's prometheus")
def test_the_written_file_is_a_configuration_promtool_accepts(tmp_path):
    path = write_scrape_config(
        cluster_plan(settings(CLUSTER_RASA_REPLICAS="2"), tmp_path), tmp_path / "p" / "prometheus.yml"
    )
    assert path.read_text().startswith("# Written by `python -m cluster run`")
    done = subprocess.run(
        [str(PROMTOOL), "check", "config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rule files found" in done.stdout
