"""The understanding dashboard: how often the assistant did not understand (NLU and Core fallbacks), how often it
asked the shopper to clarify, what the fallback then did, and which intents shoppers bring."""

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
    SHARE,
    Query,
    bar_gauge,
    stat,
    timeseries,
)

UID = "larkspur-understanding"
RECEIVED = "assistant_messages_received_total"
FALLBACKS = "assistant_fallbacks_total"
# The Rasa server counts fallbacks by where they happened (stage nlu or core), the action server by what its
# fallback action then did (actions/fallback.py): the stage values never overlap.
RASA_STAGES = 'stage=~"nlu|core"'
FALLBACK_ACTION_STAGES = 'stage=~"decline|clarify|rephrase|offer_handoff"'
FALLBACK_STEPS = [(0.1, ORANGE), (0.2, RED)]
TOP_INTENTS = 10
RATINGS = "assistant_csat_ratings_total"
CSAT_STEPS = [(0, RED), (3.5, ORANGE), (4.2, "green")]


def mean_rating() -> str:
    """The mean CSAT rating over the range: each score's count times the score, over all ratings."""
    terms = []
    for score in range(1, 6):
        matcher = 'rating="' + str(score) + '"'
        count = q.increase(RATINGS, where=matcher)
        terms.append(f"{score} * ({count} or vector(0))")  # a score nobody gave yet must not empty the sum
    return f"({' + '.join(terms)}) / {q.increase(RATINGS)}"


def build() -> Dashboard:
    """The understanding dashboard (docs/operations.md#dashboards)."""
    fallback_share = q.share(q.rate(FALLBACKS, where=RASA_STAGES), q.rate(RECEIVED))
    clarification_share = q.share(q.rate("assistant_clarifications_total"), q.rate(RECEIVED))
    return dashboard(
        UID,
        "Larkspur: understanding",
        "Fallback and clarification rates, what the fallback did, and the intents shoppers bring.",
        [
            (
                stat(
                    "Fallback rate",
                    "Share of messages that ended in a fallback (NLU: no intent confident enough; Core: no "
                    "action predicted), at the end of the range. Orange from 10%, red from 20%.",
                    SHARE,
                    [Query(fallback_share, "fallbacks")],
                    steps=FALLBACK_STEPS,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Clarification rate",
                    "Share of messages the assistant answered with a clarifying question (two intents close "
                    "together), at the end of the range. Orange from 10%, red from 20%.",
                    SHARE,
                    [Query(clarification_share, "clarifications")],
                    steps=FALLBACK_STEPS,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Fallbacks in the range",
                    "Messages that ended in a fallback over the whole range, NLU and Core together.",
                    COUNT,
                    [Query(q.increase(FALLBACKS, where=RASA_STAGES), "fallbacks")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "Intents seen in the range",
                    "How many different intents shoppers' messages had over the range.",
                    COUNT,
                    [Query(f"count ({q.increase('assistant_intents_total', by='intent')} > 0)", "intents")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    "Fallback rate by stage",
                    "Share of messages that ended in a fallback, by stage: nlu (the nlu_fallback intent) or core "
                    "(action_fallback predicted). Orange from 10%, red from 20%.",
                    SHARE,
                    [
                        Query(
                            q.share_each(q.rate(FALLBACKS, by="stage", where=RASA_STAGES), q.rate(RECEIVED), "stage"),
                            "{{stage}}",
                        )
                    ],
                    steps=FALLBACK_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "Clarification rate",
                    "Share of messages answered with a clarifying question over time. Orange from 10%, red from 20%.",
                    SHARE,
                    [Query(clarification_share, "clarifications")],
                    steps=FALLBACK_STEPS,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                timeseries(
                    "What the fallback did",
                    "Per minute, what the action server's fallback action did with a message it was handed: "
                    "declined it (off-topic), asked to clarify, asked to rephrase, or offered a person.",
                    PER_MINUTE,
                    [Query(q.per_minute(q.rate(FALLBACKS, by="stage", where=FALLBACK_ACTION_STAGES)), "{{stage}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                bar_gauge(
                    f"Top {TOP_INTENTS} intents in the range",
                    f"The {TOP_INTENTS} intents shoppers' messages had most often over the range (faq counted as "
                    "one intent, not by topic).",
                    COUNT,
                    [Query(f"topk({TOP_INTENTS}, {q.increase('assistant_intents_total', by='intent')})", "{{intent}}")],
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
            (
                stat(
                    "CSAT: mean rating",
                    "The shoppers' mean rating (1-5) of the conversations rated over the range, asked once after "
                    "a request the assistant resolved itself. Red below 3.5, orange below 4.2.",
                    "none",
                    [Query(mean_rating(), "mean rating")],
                    steps=CSAT_STEPS,
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                stat(
                    "CSAT: response rate",
                    "Share of the rating questions asked over the range that a shopper answered with a score "
                    "(the rest skipped or left).",
                    SHARE,
                    [Query(q.share(q.increase(RATINGS), q.increase("assistant_csat_asked_total")), "answered")],
                ),
                QUARTER,
                STAT_HEIGHT,
            ),
            (
                bar_gauge(
                    "CSAT: ratings by score",
                    "How many conversations got each score, 1 to 5, over the range; skipped: asked and declined.",
                    COUNT,
                    [
                        Query(q.increase(RATINGS, by="rating"), "{{rating}}"),
                        Query(q.increase("assistant_csat_skipped_total"), "skipped"),
                    ],
                ),
                HALF,
                STAT_HEIGHT,
            ),
            (
                timeseries(
                    f"Top {TOP_INTENTS} intents over time",
                    f"Messages per second of the {TOP_INTENTS} most frequent intents at each point in time.",
                    MESSAGES_PER_SECOND,
                    [Query(f"topk({TOP_INTENTS}, {q.rate('assistant_intents_total', by='intent')})", "{{intent}}")],
                    stacked=True,
                ),
                HALF,
                GRAPH_HEIGHT,
            ),
        ],
    )
