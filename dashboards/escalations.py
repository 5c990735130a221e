"""The escalations dashboard: how many conversations are handed to a person, why, and how that compares with the
messages coming in."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards import promql as q
from dashboards.board import dashboard
from dashboards.layout import GRAPH_HEIGHT, HALF, QUARTER, STAT_HEIGHT
from dashboards.panels import COUNT, ORANGE, PER_MINUTE, RED, SHARE, Query, stat, timeseries

UID = "larkspur-escalations"
HANDOFFS = "assistant_handoffs_total"
RECEIVED = "assistant_messages_received_total"
HANDOFF_STEPS = [(0.05, ORANGE), (0.1, RED)]
# Both servers count handoffs under the same name; the dashboard reads the action server's (the handoff action
# created the ticket there), so none is counted twice.


def build() -> Dashboard:
    """The escalations dashboard (docs/operations.md#dashboards)."""
    handoff_share = q.share(q.rate(HANDOFFS, where=q.ACTION_SERVER), q.rate(RECEIVED))
    return dashboard(
        UID,
        "Larkspur: escalations",
        "Conversations handed to a person, by reason, and their share of the messages coming in.",
        [
            (
                stat(
                    "Handoffs in the range",
                    "Conversations handed to a person over the whole range (the action server's count).",
                    COUNT,
                    [Query(q.increase(HANDOFFS, where=q.ACTION_SERVER), "handoffs")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Handoffs per message",
                    "Handoffs over messages received, at the end of the range. Orange from 5%, red from 10%.",
                    SHARE,
                    [Query(handoff_share, "handoffs")],
                    steps=HANDOFF_STEPS,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Handoffs offered by the fallback",
                    "Times over the range the fallback offered a person because the assistant kept not "
                    "understanding (stage offer_handoff).",
                    COUNT,
                    [Query(q.increase("assistant_fallbacks_total", where='stage="offer_handoff"'), "offered")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Messages in the range",
                    "Messages from shoppers over the range, every channel together: the denominator of the share.",
                    COUNT,
                    [Query(q.increase(RECEIVED), "messages")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    "Handoffs by reason",
                    "Conversations handed to a person per minute, by reason (the shopper asked, the fallback "
                    "offered it, the topic needs a person...).",
                    PER_MINUTE,
                    [Query(q.per_minute(q.rate(HANDOFFS, by="reason", where=q.ACTION_SERVER)), "{{reason}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Handoffs per message",
                    "Handoffs over messages received, over time. Orange from 5%, red from 10%.",
                    SHARE,
                    [Query(handoff_share, "handoffs per message")],
                    steps=HANDOFF_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
        ],
    )
