"""Pure arithmetic of the benchmarks: percentiles, per-level summaries and the replica count for a target load.

Kept free of I/O so tests/unit/test_bench_stats.py can check it exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default).

    None for no values: a level where every request failed has no latency, and must not look fast.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    data = sorted(values)
    if not data:
        return None
    rank = (len(data) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return float(data[low] + (data[high] - data[low]) * (rank - low))


def summarize_latencies(latencies_s: Iterable[float]) -> dict[str, float | None]:
    """p50/p95/p99/mean/max in milliseconds, rounded to 0.1 ms."""
    data = list(latencies_s)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 1)

    return {
        "p50_ms": ms(percentile(data, 50)),
        "p95_ms": ms(percentile(data, 95)),
        "p99_ms": ms(percentile(data, 99)),
        "mean_ms": ms(sum(data) / len(data)) if data else None,
        "max_ms": ms(max(data)) if data else None,
    }


def per_core(messages_per_s: float, cores_used: float) -> float | None:
    """Messages per second per core actually busy (CPU seconds / wall seconds); None when nothing was measured."""
    if cores_used is None or cores_used <= 0:
        return None
    return messages_per_s / cores_used


def replicas_needed(
    target_msgs_per_s: float, msgs_per_s_per_core: float, cores_per_replica: float = 1.0, headroom: float = 0.7
) -> int:
    """Replicas (one core each by default) to serve `target_msgs_per_s`, each run at `headroom` of its capacity.

    Latency grows fast as a process nears 100% CPU, so capacity is planned at 70% by default.
    """
    if msgs_per_s_per_core <= 0:
        raise ValueError("msgs_per_s_per_core must be positive")
    if not 0 < headroom <= 1:
        raise ValueError("headroom must be in (0, 1]")
    capacity = msgs_per_s_per_core * cores_per_replica * headroom
    return max(1, math.ceil(target_msgs_per_s / capacity - 1e-9))


def load_from_conversations(conversations: int, seconds_between_messages: float) -> float:
    """Messages per second that `conversations` concurrent shoppers produce, one message each N seconds."""
    if seconds_between_messages <= 0:
        raise ValueError("seconds_between_messages must be positive")
    return conversations / seconds_between_messages


def ratio(ours: float | None, stock: float | None) -> float | None:
    """ours/stock, None when either is missing or stock is zero."""
    if ours is None or stock is None or stock == 0:
        return None
    return round(ours / stock, 2)


def parse_levels(text: str) -> list[int]:
    """ "1,8,32" -> [1, 8, 32]; rejects empty, zero and negative levels."""
    levels = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    if not levels or any(level < 1 for level in levels):
        raise ValueError(f"levels must be positive integers, got {text!r}")
    return levels
