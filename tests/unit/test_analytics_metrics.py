"""analytics/metrics.py through the counting round of analytics/__main__.py: what a round adds to the metrics."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from analytics import metrics
from analytics.__main__ import count_round
from foundation.settings import SettingsError


class Consumer:
    """A consumer whose rounds return the given counts or raise the given exceptions, in order."""

    def __init__(self, *rounds):
        self.rounds = list(rounds)

    def consume_once(self) -> int:
        outcome = self.rounds.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def value(name: str, source: str) -> float:
    return REGISTRY.get_sample_value(name, {"source": source}) or 0.0


def test_a_round_adds_its_new_events_and_its_time_and_a_failed_one_only_the_failure():
    source = "sql-unit-test"
    consumer = Consumer(3, 0, ConnectionError("broker away"), 2)
    before = time.time()
    assert count_round(consumer, source) == 3
    assert count_round(consumer, source) == 0
    assert value("assistant_analytics_events_total", source) == 3
    last = value("assistant_analytics_last_round_timestamp_seconds", source)
    assert before <= last <= time.time()
    assert value("assistant_analytics_failed_rounds_total", source) == 0

    assert count_round(consumer, source) is None  # logged and counted, never raised
    assert value("assistant_analytics_failed_rounds_total", source) == 1
    assert value("assistant_analytics_last_round_timestamp_seconds", source) == last
    assert value("assistant_analytics_events_total", source) == 3

    assert count_round(consumer, source) == 2
    assert value("assistant_analytics_events_total", source) == 5


def test_the_metrics_port_is_read_like_every_process_s():
    assert metrics.AnalyticsMetricsSettings.from_env({}).port == 9109
    assert metrics.AnalyticsMetricsSettings.from_env({"ANALYTICS_METRICS_PORT": "0"}).port == 0
    with pytest.raises(SettingsError, match="ANALYTICS_METRICS_PORT"):
        metrics.AnalyticsMetricsSettings.from_env({"ANALYTICS_METRICS_PORT": "ninety"})
