"""The backends dashboard: how the action server's calls to the retailer's systems go (rate, error share,
latency, retries, circuit breakers) and what the demo shop serves, by route."""

from __future__ import annotations

from grafanalib.core import Dashboard, TimeSeries

from dashboards import promql as q
from dashboards.board import dashboard
from dashboards.layout import GRAPH_HEIGHT, HALF, STAT_HEIGHT, WIDE
from dashboards.panels import (
    ORANGE,
    PER_MINUTE,
    RED,
    REQUESTS_PER_SECOND,
    SECONDS,
    SHARE,
    STATE,
    Query,
    breaker_mappings,
    stat,
    timeseries,
)

UID = "larkspur-backends"
CALLS = "assistant_backend_request_seconds_count"
# not_found and conflict are answers the actions handle (an unknown order, a refund already asked for), not
# failures of the system: they are left out of the error share.
FAILED = 'outcome!~"not_found|conflict"'
ERROR_STEPS = [(0.01, ORANGE), (0.05, RED)]
LATENCY_STEPS = [(0.25, ORANGE), (0.3, RED)]


def backend_p95() -> TimeSeries:
    """One backend call's p95 by system: here beside the errors, and on the latency dashboard beside the turn's."""
    return timeseries(
        "Backend latency p95 by system",
        "95th percentile of one call (CRM, orders, payments, helpdesk), retries included, by system. Orange from "
        "250 ms, red from 300 ms (the turn's whole p95 target).",
        SECONDS,
        [Query(q.quantile(0.95, "assistant_backend_request_seconds", by="system"), "{{system}}")],
        steps=LATENCY_STEPS,
    )


def build() -> Dashboard:
    """The backends dashboard (docs/operations.md#dashboards)."""
    error_share = q.share(
        q.rate("assistant_backend_errors_total", by="system", where=FAILED), q.rate(CALLS, by="system")
    )
    shop_error_share = q.share(
        q.rate("assistant_shop_errors_total", by="route"), q.rate("assistant_shop_requests_total", by="route")
    )
    return dashboard(
        UID,
        "Larkspur: backends",
        "The action server's calls to CRM, orders, payments and helpdesk, their circuit breakers, and the demo shop.",
        [
            (
                stat(
                    "Circuit breakers",
                    "Each system's circuit breaker on the action servers, the worst replica's: closed (calls go "
                    "through), half-open (one trial call), open (calls fail fast).",
                    STATE,
                    [Query("max by (system) (assistant_circuit_breaker_state)", "{{system}}")],
                    steps=[(1, ORANGE), (2, RED)],
                    mappings=breaker_mappings(),
                ),
                WIDE,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    "Backend calls by system",
                    "Calls per second from the action servers to each system (retries inside one call not counted).",
                    REQUESTS_PER_SECOND,
                    [Query(q.rate(CALLS, by="system"), "{{system}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Backend error share by system",
                    "Share of calls that failed (timeout, connection error, unavailable, circuit open, bad "
                    "response, refused), by system; not found and conflict are answers, not failures. Orange "
                    "from 1%, red from 5%.",
                    SHARE,
                    [Query(error_share, "{{system}}")],
                    steps=ERROR_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (backend_p95(), HALF, GRAPH_HEIGHT),
            (
                timeseries(
                    "Retries by system",
                    "Attempts repeated after a transient failure, per minute, by system: rising retries come "
                    "before errors and an open breaker.",
                    PER_MINUTE,
                    [Query(q.per_minute(q.rate("assistant_backend_retries_total", by="system")), "{{system}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Shop requests by route",
                    "Requests per second the demo shop answered, by route pattern (no ids in routes).",
                    REQUESTS_PER_SECOND,
                    [Query(q.rate("assistant_shop_requests_total", by="route"), "{{route}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Shop error share by route",
                    "Share of the demo shop's answers with a 5xx status, by route. Orange from 1%, red from 5%.",
                    SHARE,
                    [Query(shop_error_share, "{{route}}")],
                    steps=ERROR_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Shop latency p95 by route",
                    "95th percentile of the demo shop's time to answer, by route. Orange from 250 ms, red from 300 ms.",
                    SECONDS,
                    [Query(q.quantile(0.95, "assistant_shop_request_seconds", by="route"), "{{route}}")],
                    steps=LATENCY_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Shop requests by status",
                    "Requests per second the demo shop answered, by HTTP status.",
                    REQUESTS_PER_SECOND,
                    [Query(q.rate("assistant_shop_requests_total", by="status"), "{{status}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
        ],
    )
