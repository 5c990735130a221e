"""The cache-memory benchmark's arithmetic: what it counts once, and the full cache under both bounds."""

from __future__ import annotations

import sys
from collections import deque

from rasa.shared.core.domain import Domain

from bench.cached_memory import deep_size, summarise


def test_an_object_reached_twice_is_counted_once_and_a_domain_not_at_all():
    text = "x" * 1000
    seen: set[int] = set()
    first = deep_size([deque([text, text])], seen)
    assert first >= sys.getsizeof(text) and first < 2 * sys.getsizeof(text)
    assert deep_size([[text]], seen) == sys.getsizeof([text])  # the string was counted with the deque
    holder = {"domain": Domain.empty()}
    assert deep_size([holder], set()) == sys.getsizeof(holder) + sys.getsizeof("domain")


def test_the_full_cache_is_bounded_by_conversations_or_by_events_whichever_comes_first():
    part = {"event_count": 100, "events": 300 * 1024, "flat_turns_memo": 50 * 1024, "tracker_other": 0}
    part["stored_rows"] = 50 * 1024
    short = summarise([part, part], (1000, 100_000))
    assert short["conversations_kept"] == 1000 and short["full_cache_mib"] == round(400 * 1000 / 1024, 1)
    long = summarise([{**part, "event_count": 1500}], (1000, 100_000))
    assert long["conversations_kept"] == 66 and long["unbounded_by_events_mib"] > 10 * long["full_cache_mib"]
    assert short["memo_share"] == 0.125
