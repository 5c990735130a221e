"""The benchmark's arithmetic: percentiles, per-core throughput, replicas for a target load."""

import math

import pytest

from bench.stats import (
    load_from_conversations,
    parse_levels,
    per_core,
    percentile,
    ratio,
    replicas_needed,
    summarize_latencies,
)


def test_percentile_interpolates_like_numpy():
    data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(data, 50) == 5.5
    assert percentile(data, 0) == 1 and percentile(data, 100) == 10
    assert math.isclose(percentile(data, 95), 9.55)
    assert percentile(list(reversed(data)), 50) == 5.5  # order does not matter


def test_percentile_edge_cases():
    assert percentile([], 50) is None
    assert percentile([0.2], 99) == 0.2
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summary_is_in_milliseconds():
    summary = summarize_latencies([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == 20.0 and summary["max_ms"] == 30.0 and summary["mean_ms"] == 20.0
    assert summarize_latencies([])["p95_ms"] is None


def test_per_core_and_ratio():
    assert per_core(100.0, 2.0) == 50.0
    assert per_core(100.0, 0) is None and per_core(100.0, None) is None
    assert ratio(80.0, 20.0) == 4.0
    assert ratio(None, 1.0) is None and ratio(1.0, 0) is None


def test_replicas_for_ten_thousand_conversations():
    load = load_from_conversations(10_000, 10)
    assert load == 1000.0
    # 100 msg/s per core at 70% -> 70 per replica -> 15 replicas (14.3 rounded up)
    assert replicas_needed(load, 100.0) == 15
    assert replicas_needed(load, 100.0, headroom=1.0) == 10
    assert replicas_needed(load, 50.0, cores_per_replica=2) == 15
    assert replicas_needed(1.0, 1000.0) == 1
    with pytest.raises(ValueError):
        replicas_needed(load, 0)
    with pytest.raises(ValueError):
        replicas_needed(load, 10, headroom=0)


def test_levels_parse():
    assert parse_levels("1,8, 32,128") == [1, 8, 32, 128]
    for bad in ("", "0", "1,-2"):
        with pytest.raises(ValueError):
            parse_levels(bad)
