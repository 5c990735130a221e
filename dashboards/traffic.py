"""The traffic dashboard: how many messages come in and go out on each channel, what the web chat serves, and
how many turns or replies failed."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards import promql as q
from dashboards.board import dashboard
from dashboards.layout import GRAPH_HEIGHT, HALF, QUARTER, STAT_HEIGHT
from dashboards.panels import (
    COUNT,
    MESSAGES_PER_SECOND,
    ORANGE,
    PER_MINUTE,
    RED,
    REQUESTS_PER_SECOND,
    SHARE,
    Query,
    stat,
    timeseries,
)

UID = "larkspur-traffic"
RECEIVED = "assistant_messages_received_total"
SENT = "assistant_messages_sent_total"


def build() -> Dashboard:
    """The traffic dashboard (docs/operations.md#dashboards)."""
    turn_errors = q.share(q.rate("assistant_turn_errors_total"), q.rate(RECEIVED))
    return dashboard(
        UID,
        "Larkspur: traffic",
        "Messages in and out by channel, the web chat's requests and sessions, failed turns and replies.",
        [
            (
                stat(
                    "Messages received",
                    "Messages from shoppers per second on every channel together, at the end of the range.",
                    MESSAGES_PER_SECOND,
                    [Query(q.rate(RECEIVED), "received")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Messages in the range",
                    "Messages from shoppers over the whole selected time range, every channel together.",
                    COUNT,
                    [Query(q.increase(RECEIVED), "received")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Web chat sessions in the range",
                    "Web chat sessions the web chat server issued over the range: the nearest measure of new "
                    "conversations (no metric counts open conversations).",
                    COUNT,
                    [Query(q.increase("assistant_webchat_sessions_issued_total"), "sessions")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Failed turns",
                    "Share of messages whose turn raised in the Rasa server (assistant_turn_errors_total over "
                    "messages received): the shopper got no answer. Orange from 0.1%, red from 1%.",
                    SHARE,
                    [Query(turn_errors, "failed")],
                    steps=[(0.001, ORANGE), (0.01, RED)],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    "Messages received by channel",
                    "Shoppers' messages per second, by channel (rest is the web chat's webhook).",
                    MESSAGES_PER_SECOND,
                    [Query(q.rate(RECEIVED, by="channel"), "{{channel}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Messages sent by channel",
                    "The assistant's replies per second, by channel (one turn can send several).",
                    MESSAGES_PER_SECOND,
                    [Query(q.rate(SENT, by="channel"), "{{channel}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Web chat requests by route and status",
                    "Requests per second the web chat server answered (page, widget, config, sessions), by route "
                    "and HTTP status.",
                    REQUESTS_PER_SECOND,
                    [Query(q.rate("assistant_webchat_requests_total", by="route, status"), "{{route}} {{status}}")],
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Failed turns, undelivered replies, retried turns",
                    "Per minute: turns that raised in the Rasa server, replies a messaging platform never "
                    "accepted after every retry (channels/delivery.py), by channel, and retries of a turn already "
                    "stored, answered from the store (a replica died between saving and answering: nginx sent "
                    "the message again). Red from one a minute.",
                    PER_MINUTE,
                    [
                        Query(q.per_minute(q.rate("assistant_turn_errors_total")), "failed turns"),
                        Query(
                            q.per_minute(q.rate("assistant_channel_delivery_failures_total", by="channel")),
                            "undelivered {{channel}}",
                        ),
                        Query(q.per_minute(q.rate("assistant_messages_replayed_total")), "retried, from the store"),
                    ],
                    steps=[(1, RED)],
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
        ],
    )
