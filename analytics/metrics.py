"""Prometheus metrics of the analytics consumer: events counted, rounds that failed, when it last kept up.

`count_round` (analytics/__main__.py) reports each round of the counting loop here (`counted`, `failed`);
`serve()` starts the `/metrics` endpoint on `ANALYTICS_METRICS_HOST:ANALYTICS_METRICS_PORT` (default
127.0.0.1:9109, 0: off) beside the report page. The last successful round's time is what
AssistantAnalyticsStalled (docker/prometheus/alerts.yml) watches: a consumer that stays up but cannot read the
broker or write its store leaves the report going stale, and nothing else would show it.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge
from pydantic import Field

from foundation.metrics_endpoint import serve_metrics
from foundation.settings import PortOrZero, ProcessSettings

log = logging.getLogger("analytics.metrics")

EVENTS = Counter(
    "assistant_analytics_events_total",
    "Broker events the analytics consumer counted into its store for the first time, by broker.",
    ["source"],
)
FAILED_ROUNDS = Counter(
    "assistant_analytics_failed_rounds_total",
    "Counting rounds that failed (the broker or the analytics store away), by broker.",
    ["source"],
)
LAST_ROUND = Gauge(
    "assistant_analytics_last_round_timestamp_seconds",
    "Unix time of the analytics consumer's last counting round that succeeded, by broker.",
    ["source"],
)


class AnalyticsMetricsSettings(ProcessSettings):
    """Where the analytics consumer serves its `/metrics`: a port of its own, beside the report page's."""

    port: PortOrZero = Field(9109, env="ANALYTICS_METRICS_PORT")  # 0: no metrics endpoint
    host: str = Field("127.0.0.1", env="ANALYTICS_METRICS_HOST")


def counted(source: str, new_events: int, now: float | None = None) -> None:
    """A round that succeeded: `new_events` more events in the store (0 when the broker had none)."""
    EVENTS.labels(source).inc(new_events)
    LAST_ROUND.labels(source).set(time.time() if now is None else now)


def failed(source: str) -> None:
    """A round that failed; the consumer tries again after its pause."""
    FAILED_ROUNDS.labels(source).inc()


def serve(settings: AnalyticsMetricsSettings | None = None) -> bool:
    """Serve `/metrics` for this consumer (False when ANALYTICS_METRICS_PORT is 0 or its port is taken)."""
    settings = settings or AnalyticsMetricsSettings.current()
    return serve_metrics(settings.port, settings.host, "ANALYTICS_METRICS_PORT", log)
