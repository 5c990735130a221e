"""What the report shows, counted from the store: rates, escalations, drop-off steps and latency, overall and by
day, channel and intent. The definitions (containment, drop-off, latency): docs/analytics.md."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics.models import Conversation, Turn
from rasa_runtime.metrics import CSAT_SCALE


def is_resolved(conversation: Conversation, last_turn: Turn | None) -> bool:
    """Resolved without a person: no handoff, and the last turn was understood and left nothing open (no
    clarifying question, no form slot asked for, no offer or confirmation waiting for an answer)."""
    return (
        last_turn is not None
        and not conversation.handed_off
        and last_turn.fallback is None
        and not last_turn.clarified
        and conversation.requested_slot is None
        and conversation.pending is None
    )


def rate(part: int, whole: int) -> float | None:
    """part / whole, None when there is nothing to divide by."""
    return part / whole if whole else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The value below which `share` of the values lie (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


@dataclass
class Breakdown:
    """One row of a breakdown table: a day, a channel or an intent."""

    key: str
    conversations: int
    turns: int
    containment: float | None
    handoffs: int
    fallback_rate: float | None
    clarification_rate: float | None
    median_latency: float | None
    csat: float | None = None  # the mean rating of its rated conversations
    csat_ratings: int = 0


@dataclass
class Summary:
    """Everything the report renders."""

    conversations: int = 0
    turns: int = 0
    resolved: int = 0
    handed_off: int = 0
    containment: float | None = None
    fallback_rate: float | None = None
    clarification_rate: float | None = None
    handoff_reasons: list[tuple[str, int]] = field(default_factory=list)
    drop_off_steps: list[tuple[str, int]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    median_latency: float | None = None
    p90_latency: float | None = None
    latency_by_turn_number: list[tuple[int, float, int]] = field(default_factory=list)  # number, median, turns
    by_day: list[Breakdown] = field(default_factory=list)
    by_channel: list[Breakdown] = field(default_factory=list)
    by_intent: list[Breakdown] = field(default_factory=list)
    csat_ratings: int = 0  # conversations with a rating
    csat_mean: float | None = None
    csat_distribution: list[tuple[int, int]] = field(default_factory=list)  # rating, conversations, for 1 to 5


def summarise(conversations: Iterable[Conversation], turns: Iterable[Turn]) -> Summary:
    """Count the store's conversations and turns into the report's figures."""
    talked = [conversation for conversation in conversations if conversation.turns]
    turn_list = list(turns)
    turns_of: dict[str, list[Turn]] = {}
    for turn in turn_list:
        turns_of.setdefault(turn.conversation_ref, []).append(turn)
    last_turn = {ref: _last_request(found) for ref, found in turns_of.items()}
    resolved = {c.ref for c in talked if is_resolved(c, last_turn.get(c.ref))}
    latencies = [turn.latency_seconds for turn in turn_list if turn.latency_seconds is not None]
    summary = Summary(
        conversations=len(talked),
        turns=len(turn_list),
        resolved=len(resolved),
        handed_off=sum(1 for c in talked if c.handed_off),
        containment=rate(len(resolved), len(talked)),
        fallback_rate=rate(sum(1 for turn in turn_list if turn.fallback), len(turn_list)),
        clarification_rate=rate(sum(1 for turn in turn_list if turn.clarified), len(turn_list)),
        handoff_reasons=Counter(c.handoff_reason or "unknown" for c in talked if c.handed_off).most_common(),
        drop_off_steps=Counter(
            c.last_step or "none" for c in talked if c.ref not in resolved and not c.handed_off
        ).most_common(),
        latencies=latencies,
        median_latency=statistics.median(latencies) if latencies else None,
        p90_latency=percentile(latencies, 0.9),
    )
    ratings = [c.csat for c in talked if c.csat is not None]
    summary.csat_ratings = len(ratings)
    summary.csat_mean = statistics.mean(ratings) if ratings else None
    summary.csat_distribution = [(score, ratings.count(score)) for score in CSAT_SCALE]
    by_number: dict[int, list[float]] = {}
    for turn in turn_list:
        if turn.latency_seconds is not None:
            by_number.setdefault(turn.number, []).append(turn.latency_seconds)
    summary.latency_by_turn_number = [
        (number, statistics.median(values), len(values)) for number, values in sorted(by_number.items())
    ]
    summary.by_day = _breakdown(talked, turn_list, resolved, lambda c: str(c.day), lambda t: str(t.day))
    summary.by_channel = _breakdown(talked, turn_list, resolved, lambda c: c.channel, lambda t: t.channel)
    summary.by_intent = _intent_breakdown(turn_list, resolved)
    return summary


def _last_request(turns: list[Turn]) -> Turn:
    """The conversation's last turn that was not an answer to a CSAT question: what its resolution is judged on."""
    requests = [turn for turn in turns if not turn.csat_answer] or turns
    return max(requests, key=lambda turn: turn.number)


def _row(key: str, conversations: list[Conversation], turns: list[Turn], resolved: set[str]) -> Breakdown:
    latencies = [turn.latency_seconds for turn in turns if turn.latency_seconds is not None]
    ratings = [c.csat for c in conversations if c.csat is not None]
    return Breakdown(
        key=key,
        conversations=len(conversations),
        turns=len(turns),
        containment=rate(sum(1 for c in conversations if c.ref in resolved), len(conversations)),
        handoffs=sum(1 for turn in turns if turn.handoff_reason),
        fallback_rate=rate(sum(1 for turn in turns if turn.fallback), len(turns)),
        clarification_rate=rate(sum(1 for turn in turns if turn.clarified), len(turns)),
        median_latency=statistics.median(latencies) if latencies else None,
        csat=statistics.mean(ratings) if ratings else None,
        csat_ratings=len(ratings),
    )


def _breakdown(
    conversations: list[Conversation],
    turns: list[Turn],
    resolved: set[str],
    conversation_key: Callable[[Conversation], str],
    turn_key: Callable[[Turn], str],
) -> list[Breakdown]:
    keys = sorted({conversation_key(c) for c in conversations} | {turn_key(t) for t in turns})
    return [
        _row(
            key,
            [c for c in conversations if conversation_key(c) == key],
            [t for t in turns if turn_key(t) == key],
            resolved,
        )
        for key in keys
    ]


def _intent_breakdown(turns: list[Turn], resolved: set[str]) -> list[Breakdown]:
    """By intent, the turns with it; containment counts the conversations that had such a turn."""
    grouped: dict[str, list[Turn]] = {}
    for turn in turns:
        grouped.setdefault(turn.intent or "none", []).append(turn)
    rows = []
    for intent, found in sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0])):
        refs = {turn.conversation_ref for turn in found}
        row = _row(intent, [], found, resolved)
        row.conversations = len(refs)
        row.containment = rate(len(refs & resolved), len(refs))
        rows.append(row)
    return rows


def as_percent(value: Any) -> str:
    """A rate as the report prints it."""
    return "–" if value is None else f"{100 * value:.1f}%"


def as_rating(value: Any) -> str:
    """A mean CSAT rating as the report prints it."""
    return "–" if value is None else f"{value:.2f}"


def as_seconds(value: Any) -> str:
    """A latency as the report prints it."""
    return "–" if value is None else f"{value:.2f} s"
