"""Prometheus metrics of backend calls, under the `assistant_` prefix (listed in docs/architecture.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BACKEND_LATENCY = Histogram(
    "assistant_backend_request_seconds",
    "Latency of one backend call, retries included, by system, operation and outcome.",
    ["system", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BACKEND_ERRORS = Counter(
    "assistant_backend_errors_total",
    "Backend calls that did not succeed, by system and outcome.",
    ["system", "outcome"],
)
BACKEND_RETRIES = Counter(
    "assistant_backend_retries_total",
    "Backend attempts repeated after a transient failure, by system.",
    ["system"],
)
BREAKER_STATE = Gauge(
    "assistant_circuit_breaker_state",
    "Circuit breaker state by system: 0 closed, 1 half-open, 2 open.",
    ["system"],
)
BREAKER_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}
