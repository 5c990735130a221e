"""The Prometheus files of docker/prometheus/, checked by Debian's promtool (make system-deps installs the
`prometheus` package, which ships it): the compose configuration and the rules are valid, the rules' unit tests
(alerts_test.yml) pass and fail when a threshold moves, and every alert carries what an operator needs (a `for:`,
a severity, a summary, a description, a runbook line) and is tested firing and not firing, and documented."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from foundation import REPO

RULES_DIR = REPO / "docker" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
RECORDS = RULES_DIR / "records.yml"
RULE_TESTS = RULES_DIR / "alerts_test.yml"
COMPOSE_CONFIG = RULES_DIR / "prometheus.yml"
COMPOSE_FILE = REPO / "docker" / "compose.yml"
OPERATIONS = REPO / "docs" / "operations.md"
PROMTOOL = shutil.which("promtool")
SEVERITIES = {"critical", "warning"}

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing: `make system-deps` installs Debian's prometheus package"
)


def promtool(*args: str | Path, cwd: Path = RULES_DIR) -> subprocess.CompletedProcess[str]:
    """promtool's run, its output kept for the assertion message."""
    assert PROMTOOL
    return subprocess.run(
        [PROMTOOL, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def rule_tests() -> list[dict]:
    return yaml.safe_load(RULE_TESTS.read_text())["tests"]


@needs_promtool
def test_the_compose_configuration_and_its_rule_files_are_valid():
    done = promtool("check", "config", COMPOSE_CONFIG)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rule files found" in done.stdout


@needs_promtool
def test_the_rule_files_are_valid():
    done = promtool("check", "rules", RECORDS, ALERTS)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_the_rules_unit_tests_pass():
    done = promtool("test", "rules", RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_the_rules_unit_tests_fail_when_a_threshold_moves(tmp_path):
    """A copy of the rules with the turn-error threshold raised from 5% to 50%: the test that expected the alert
    to fire at 10% now fails, naming it (so the tests check the thresholds, not only the syntax)."""
    for path in (RECORDS, RULE_TESTS):
        shutil.copy(path, tmp_path / path.name)
    moved = ALERTS.read_text().replace(
        "assistant:turn_errors:ratio_rate5m > 0.05", "assistant:turn_errors:ratio_rate5m > 0.5"
    )
    assert moved != ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(moved)
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "alertname: AssistantTurnErrors" in done.stdout + done.stderr


def test_every_alert_says_how_long_how_bad_what_and_what_to_check():
    rules = alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        assert re.fullmatch(r"\d+m", rule.get("for", "")), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        assert annotations["runbook"].endswith("docs/operations.md#alerts"), rule["alert"]


def test_the_alerts_cover_what_the_operators_asked_for():
    """Errors, latency, fallbacks, the breaker, backends and scrape targets down, silence, the action server."""
    expressions = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    records = {
        rule["record"]: rule["expr"]
        for group in yaml.safe_load(RECORDS.read_text())["groups"]
        for rule in group["rules"]
    }
    assert "assistant_turn_errors_total" in records[expressions["AssistantTurnErrors"].split()[0]]
    assert "assistant_backend_errors_total" in records["system:assistant_backend_failures:rate5m"]
    assert "assistant_turn_seconds_bucket" in records["assistant:turn_seconds:p95_rate5m"]
    assert "> 0.3" in expressions["AssistantTurnLatencyHigh"]
    assert "assistant_fallbacks_total" in records[expressions["AssistantFallbackSurge"].split()[0]]
    assert "assistant_circuit_breaker_state" in expressions["AssistantCircuitBreakerOpen"]
    assert "== 2" in expressions["AssistantCircuitBreakerOpen"]
    assert expressions["AssistantScrapeTargetDown"] == "up == 0"
    assert 'up{job="actions"}' in expressions["AssistantActionServerDown"]
    assert "absent(" in expressions["AssistantNoMessages"]
    assert "assistant_analytics_last_round_timestamp_seconds" in expressions["AssistantAnalyticsStalled"]


def test_every_alert_is_tested_firing_and_not_firing():
    fired: set[str] = set()
    quiet: set[str] = set()
    for group in rule_tests():
        for case in group.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
            for alert in case["exp_alerts"]:  # the exact labels and every annotation are expected
                rule = next(r for r in alert_rules() if r["alert"] == case["alertname"])
                assert alert["exp_labels"]["severity"] == rule["labels"]["severity"]
                assert set(alert["exp_annotations"]) == set(rule["annotations"])
    names = {rule["alert"] for rule in alert_rules()}
    assert fired == names, names - fired
    assert quiet == names, names - quiet


def test_every_alert_is_in_the_operations_guide():
    text = OPERATIONS.read_text()
    assert "\n## Alerts\n" in text
    section = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    missing = [rule["alert"] for rule in alert_rules() if f"`{rule['alert']}`" not in section]
    assert not missing, missing


def test_the_compose_scrape_ports_are_the_ones_the_services_serve_metrics_on():
    """Each job of prometheus.yml reaches its compose service on the port that service's environment sets."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    config = yaml.safe_load(COMPOSE_CONFIG.read_text())
    variables = {
        "rasa": "RASA_METRICS_PORT",
        "actions": "ACTIONS_METRICS_PORT",
        "demoshop": "DEMOSHOP_METRICS_PORT",
        "analytics": "ANALYTICS_METRICS_PORT",
    }
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, variable in variables.items():
        (discovery,) = jobs[service]["dns_sd_configs"]
        assert discovery["names"] == [service]
        environment = services[service]["environment"]
        assert str(discovery["port"]) == environment[variable], service
        host_variable = variable.replace("_PORT", "_HOST")
        assert environment[host_variable] == "0.0.0.0", f"{service} must serve its metrics beyond its loopback"
    prometheus = services["prometheus"]
    assert any(volume.endswith(":/etc/prometheus:ro") for volume in prometheus["volumes"])
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert {"core", "shop"} <= set(prometheus["networks"])
