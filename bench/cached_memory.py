"""What a replica's tracker cache holds in memory when it is full of long conversations.

`CachingSQLTrackerStore` keeps the latest `cache_size` conversations (1000 by default) in the process: each one's
stored rows (as JSON), its tracker, and on that tracker what rasa_runtime/flat_turns.py remembers between turns
(the applied events and the states so far). This plays `--conversations` conversations of `--turns` turns in
process (the trained model, our tracker store on a SQLite file, the patches `make run` applies; FAQ questions and
thanks, as bench/long_conversation.py), then measures each cached conversation's three parts by walking their
objects (an object reachable from the tracker's events counts once, with the events; a domain, which every
conversation of the process refers to, not at all), and prints the mean per
conversation and what a full cache of such conversations holds: `cache_size` of them, or fewer when together
they would pass `cache_events`.

`python -m bench.cached_memory [--conversations 10] [--turns 300]`: results/bench-cached-memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog
from rasa.shared.core.domain import Domain

from bench.long_conversation import MESSAGES
from foundation import REPO

MODEL = REPO / "models" / "larkspur.tar.gz"
RESULTS = REPO / "results"
MIB = 1024 * 1024
ATOMS = (str, bytes, int, float, bool, type(None))


def deep_size(roots: Iterable[Any], seen: set[int]) -> int:
    """Bytes of every object reachable from `roots` that is not in `seen` yet (and marks them seen)."""
    total = 0
    stack = list(roots)
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (type, Domain)):  # a domain is the process's, not a conversation's
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, ATOMS):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset, deque)):
            stack.extend(item)
        else:
            stack.extend(getattr(item, "__dict__", {}).values())
            for slot in getattr(type(item), "__slots__", ()):
                if hasattr(item, slot):
                    stack.append(getattr(item, slot))
    return total


def parts_of(session: Any) -> dict[str, int]:
    """One cached conversation's bytes: its tracker's events, flat_turns' memory on it, the stored rows' JSON."""
    from rasa_runtime.flat_turns import MEMOS

    tracker = session.tracker
    seen: set[int] = set()
    events = deep_size([tracker.events], seen)
    memo = deep_size([getattr(tracker, name) for name in MEMOS if hasattr(tracker, name)], seen)
    rest = {key: value for key, value in vars(tracker).items() if key not in MEMOS and key != "events"}
    tracker_rest = deep_size([rest], seen)
    rows = deep_size([session.rows], seen)
    return {
        "event_count": len(tracker.events),
        "events": events,
        "flat_turns_memo": memo,
        "tracker_other": tracker_rest,
        "stored_rows": rows,
    }


async def play(conversations: int, turns: int, db: Path) -> tuple[list[dict[str, int]], tuple[int, int], float]:
    """Play the conversations through an Agent on our caching store; the parts of each cached one."""
    from rasa.core.agent import Agent

    from conversation_stores.tracker_store import CachingSQLTrackerStore
    from rasa_runtime.patches import apply_all

    apply_all()
    logging.getLogger().setLevel(logging.WARNING)  # Rasa's debug lines would cost more than the turns
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    agent = Agent.load(str(MODEL))
    store = CachingSQLTrackerStore(domain=agent.domain, dialect="sqlite", db=str(db))
    agent.tracker_store = store
    agent.processor.tracker_store = store
    started = time.perf_counter()
    for conversation in range(conversations):
        sender = f"memory-{conversation}"
        for turn in range(turns):
            await agent.handle_text(MESSAGES[turn % len(MESSAGES)], sender_id=sender)
        print(f"  conversation {conversation + 1}/{conversations}: {turns} turns", flush=True)
    seconds = time.perf_counter() - started
    parts = [parts_of(session) for session in store._sessions.values() if session.tracker is not None]
    bounds = store.cache_size, store.cache_events
    store.dispose()
    return parts, bounds, seconds


def summarise(parts: list[dict[str, int]], bounds: tuple[int, int]) -> dict[str, Any]:
    """Mean bytes per conversation by part, and a full cache in MiB: `cache_size` such conversations, or as many
    as `cache_events` lets it keep."""
    cache_size, cache_events = bounds
    means = {name: statistics.mean(p[name] for p in parts) for name in parts[0] if name != "event_count"}
    events = statistics.mean(p["event_count"] for p in parts)
    per_conversation = sum(means.values())
    kept = min(cache_size, max(1, int(cache_events // events)))
    return {
        "events_per_conversation": round(events),
        "per_conversation_kib": {name: round(value / 1024, 1) for name, value in means.items()},
        "per_conversation_total_kib": round(per_conversation / 1024, 1),
        "per_event_kib": round(per_conversation / events / 1024, 2),
        "memo_share": round(means["flat_turns_memo"] / per_conversation, 3),
        "cache_size": cache_size,
        "cache_events": cache_events,
        "unbounded_by_events_mib": round(per_conversation * cache_size / MIB, 1),
        "conversations_kept": kept,
        "full_cache_mib": round(per_conversation * kept / MIB, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.turns < 1:
        parser.error("--conversations and --turns must be at least 1")
    if not MODEL.exists():
        parser.error(f"no trained model at {MODEL}: run `make train` first")
    with tempfile.TemporaryDirectory() as tmp:
        parts, bounds, seconds = asyncio.run(play(args.conversations, args.turns, Path(tmp) / "tracker.sqlite"))
    found = {"conversations": args.conversations, "turns": args.turns, "seconds": round(seconds, 1)}
    found.update(summarise(parts, bounds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench-cached-memory.json").write_text(json.dumps(found, indent=2) + "\n")
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
