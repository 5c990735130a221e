"""The latency dashboard: how long a shopper waits for an answer (the turn's p50, p95, p99 against the 300 ms p95
target of docs/performance.md) and where that time goes: actions, backends, the conversation lock."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards import promql as q
from dashboards.backends import backend_p95
from dashboards.board import dashboard
from dashboards.layout import GRAPH_HEIGHT, HALF, QUARTER, STAT_HEIGHT, WIDE
from dashboards.panels import ORANGE, RED, SECONDS, Query, stat, timeseries

UID = "larkspur-latency"
TURN = "assistant_turn_seconds"
P95_TARGET = 0.3
"""The turn's p95 target in seconds (docs/performance.md, Targets)."""
NEAR_TARGET = 0.25


def build() -> Dashboard:
    """The latency dashboard (docs/operations.md#dashboards)."""
    target = [(NEAR_TARGET, ORANGE), (P95_TARGET, RED)]
    return dashboard(
        UID,
        "Larkspur: latency",
        "Turn latency against the 300 ms p95 target, and the time actions, backends and the conversation lock take.",
        [
            (
                stat(
                    "Turn p95",
                    "95th percentile of the time the Rasa server took to handle one message, over the rate "
                    "window at the end of the range. Target: 300 ms (red above it, orange from 250 ms).",
                    SECONDS,
                    [Query(q.quantile(0.95, TURN), "p95")],
                    steps=target,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Turn p99",
                    "99th percentile of the turn's time at the end of the range. Red above 1 s.",
                    SECONDS,
                    [Query(q.quantile(0.99, TURN), "p99")],
                    steps=[(P95_TARGET, ORANGE), (1, RED)],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Lock wait p95",
                    "95th percentile of the time a turn waited for its conversation's lock (another turn of the "
                    "same conversation held it). Orange from 50 ms, red from 300 ms (the whole turn's target).",
                    SECONDS,
                    [Query(q.quantile(0.95, "assistant_lock_wait_seconds"), "p95")],
                    steps=[(0.05, ORANGE), (P95_TARGET, RED)],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Backend p95",
                    "95th percentile of one backend call (retries included), every system together. Orange "
                    "from 250 ms, red from 300 ms: one call alone would then use the turn's whole target.",
                    SECONDS,
                    [Query(q.quantile(0.95, "assistant_backend_request_seconds"), "p95")],
                    steps=target,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    "Turn latency p50, p95, p99",
                    "Time the Rasa server took to handle one message (MessageProcessor.handle_message: NLU, "
                    "policies, actions, stores), every replica and channel together. The dashed line is the 300 ms "
                    "p95 target.",
                    SECONDS,
                    [
                        Query(q.quantile(0.5, TURN), "p50"),
                        Query(q.quantile(0.95, TURN), "p95"),
                        Query(q.quantile(0.99, TURN), "p99"),
                    ],
                    steps=target,
                ),
                WIDE,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Turn p95 by channel",
                    "95th percentile of the turn's time, by the channel the message came in on.",
                    SECONDS,
                    [Query(q.quantile(0.95, TURN, by="channel"), "{{channel}}")],
                    steps=target,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Action p95 by action",
                    "95th percentile of one custom action on the action server, backend calls included, by "
                    "action. Red from 300 ms: that action alone uses the turn's whole target.",
                    SECONDS,
                    [Query(q.quantile(0.95, "assistant_action_seconds", by="action"), "{{action}}")],
                    steps=target,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (backend_p95(), HALF, GRAPH_HEIGHT),
            (
                timeseries(
                    "Lock wait p95, p99",
                    "Time a turn waited for its conversation's lock before it could start: high when one "
                    "conversation sends faster than it is answered, or a replica died holding a lock.",
                    SECONDS,
                    [
                        Query(q.quantile(0.95, "assistant_lock_wait_seconds"), "p95"),
                        Query(q.quantile(0.99, "assistant_lock_wait_seconds"), "p99"),
                    ],
                    steps=[(0.05, ORANGE), (P95_TARGET, RED)],
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
        ],
    )
