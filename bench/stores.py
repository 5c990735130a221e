"""`make bench-stores`: the tracker and lock stores on one replica's event loop, three ways of waiting on I/O.

One process stands for one Rasa replica: closed-loop conversations on one event loop, each turn taking the
conversation's lock (Redis), reading its tracker and saving the turn's five events (PostgreSQL), with a fixed
slice of CPU in between standing for the NLU and policies. Both servers are real, on loopback. The ways:

- on the loop (`io_threads: 0`): the clients block the event loop, as Rasa's stores and ours did before;
- threads (the default `io_threads: 4`): the same clients, each call on the store's bounded thread pool;
- asyncio drivers: the hot statements through asyncpg and the lock's scripts through redis.asyncio (written
  here only for the comparison: a second pool beside SQLAlchemy's and redis-py's, which the stores keep for
  the rest of Rasa's API).

Prints, per way and concurrency: turns/s, p50/p95 of a turn (the median over the rounds, which take the ways
in turn so that a machine's drift touches all three alike), and the PostgreSQL connections the replica held.
Writes results/bench-stores.json. Options: --levels (1,16), --rounds (3), --turns (per conversation, 8),
--cpu-ms (8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import namedtuple
from pathlib import Path
from typing import Any

import psycopg2
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from bench.stats import parse_levels, summarize_latencies
from conversation_stores.lock_store import ISSUE, RELEASE, RedisTicketLockStore
from conversation_stores.tracker_store import ROW_COLUMNS, CachingSQLTrackerStore
from foundation import REPO
from foundation.local_servers import PostgresServer, start_redis

RESULTS = REPO / "results" / "bench-stores.json"
Row = namedtuple("Row", "id type_name data")


class AsyncDriverTrackerStore(CachingSQLTrackerStore):
    """The tracker store with its two hot statements through an asyncpg pool (the comparison only)."""

    _pool: Any = None

    async def _asyncpg(self) -> Any:
        import asyncpg

        if self._pool is None:
            url = self.engine.url
            self._pool = await asyncpg.create_pool(
                host=url.host,
                port=url.port,
                user=url.username,
                database=url.database,
                min_size=1,
                max_size=4,
                server_settings={"application_name": url.query["application_name"]},
            )
        return self._pool

    async def _read_after(self, sender_id: str, last_id: int) -> list[Row]:
        pool = await self._asyncpg()
        found = await pool.fetch(
            "SELECT id, type_name, data FROM events WHERE sender_id = $1 AND id > $2 ORDER BY id", sender_id, last_id
        )
        return [Row(row["id"], row["type_name"], row["data"]) for row in found]

    async def _store_rows(self, sender_id: str, rows: list[dict[str, Any]]) -> int:
        pool = await self._asyncpg()
        columns = [[row[name] for row in rows] for name in ROW_COLUMNS]
        ids = await pool.fetch(
            f"INSERT INTO events ({', '.join(ROW_COLUMNS)}) SELECT * FROM "
            "unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[]) RETURNING id",
            *columns,
        )
        return max(row["id"] for row in ids)


class AsyncDriverLockStore(RedisTicketLockStore):
    """The lock store with its scripts and polling through redis.asyncio (the comparison only)."""

    _client: Any = None

    def _async(self) -> Any:
        import redis.asyncio

        if self._client is None:
            kwargs = self.red.connection_pool.connection_kwargs
            self._client = redis.asyncio.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"])
            self._issue_async = self._client.register_script(ISSUE)
            self._release_async = self._client.register_script(RELEASE)
        return self._client

    async def _draw_off_loop(self, conversation_id: str, lock_lifetime: float) -> tuple[int, int, float]:
        self._async()
        now = time.time()
        ticket, serving = await self._issue_async(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(now), repr(float(lock_lifetime))]
        )
        return int(ticket), int(serving), now + float(lock_lifetime)

    async def _give_back(self, conversation_id: str, ticket: int) -> None:
        self._async()
        await self._release_async(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time()), int(ticket)]
        )


def busy(milliseconds: float) -> None:
    """Hold the CPU as the NLU and policies of a turn do."""
    end = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < end:
        pass


def add_turn(tracker: Any, turn: int) -> None:
    order = str(10000 + turn)
    tracker.update(UserUttered(f"where is {order}", {"name": "check_order_status", "confidence": 0.9}))
    tracker.update(ActionExecuted("action_order_status"))
    tracker.update(SlotSet("order_id", order))
    tracker.update(BotUttered(f"Order {order} shipped on Monday."))
    tracker.update(ActionExecuted("action_listen"))


async def conversation(tracker_store: Any, lock_store: Any, turns: int, cpu_ms: float, latencies: list) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for turn in range(turns):
        started = time.perf_counter()
        async with lock_store.lock(sender, wait_time_in_seconds=0.01):
            tracker = await tracker_store.get_or_create_tracker(sender)
            if turn == 0:
                for event in (ActionExecuted("action_session_start"), SessionStarted()):
                    tracker.update(event)
            busy(cpu_ms)
            add_turn(tracker, turn)
            await tracker_store.save(tracker)
        latencies.append(time.perf_counter() - started)


def connections(port: int, application: str) -> int:
    admin = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="assistant")
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,))
            return int(cursor.fetchone()[0])
    finally:
        admin.close()


def measure(way: str, postgres_port: int, redis_port: int, level: int, turns: int, cpu_ms: float) -> dict:
    """One way at one concurrency: `level` conversations at a time, 2 x level (at least 8) in all."""
    application = f"bench-stores-{way.replace(' ', '-')}-{level}"
    threads = 0 if way == "on the loop" else 4
    tracker_class = AsyncDriverTrackerStore if way == "asyncio drivers" else CachingSQLTrackerStore
    lock_class = AsyncDriverLockStore if way == "asyncio drivers" else RedisTicketLockStore
    domain = Domain.load(str(REPO / "domain.yml"))
    tracker_store = tracker_class(
        domain=domain,
        dialect="postgresql",
        host="127.0.0.1",
        port=postgres_port,
        db="assistant",
        username="postgres",
        query={"application_name": application},
        io_threads=threads,
    )
    lock_store = lock_class("127.0.0.1", redis_port, 1, key_prefix="benchstores", io_threads=threads)
    latencies: list[float] = []
    held = 0

    async def run_level() -> float:
        nonlocal held
        queue = asyncio.Queue()
        for _ in range(max(8, 2 * level)):
            queue.put_nowait(None)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                await conversation(tracker_store, lock_store, turns, cpu_ms, latencies)

        if isinstance(tracker_store, AsyncDriverTrackerStore):
            await tracker_store._asyncpg()  # one pool, made before the conversations race to make it
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        elapsed = time.perf_counter() - started
        held = connections(postgres_port, application)
        if isinstance(tracker_store, AsyncDriverTrackerStore) and tracker_store._pool is not None:
            await tracker_store._pool.close()
        return elapsed

    elapsed = asyncio.run(run_level())
    tracker_store.dispose()
    lock_store.dispose()
    summary = summarize_latencies(latencies)
    return {
        "way": way,
        "conversations": level,
        "turns": len(latencies),
        "turns_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "postgres_connections": held,
    }


def median_of(runs: list[dict]) -> dict:
    """One way at one level over the rounds: the median of each figure."""
    row = dict(runs[0])
    for key in ("turns_per_s", "p50_ms", "p95_ms", "postgres_connections"):
        row[key] = round(statistics.median(run[key] for run in runs), 1)
    row["rounds"] = len(runs)
    return row


def main(argv: list[str] | None = None) -> int:
    """Run every way at every level against one PostgreSQL and one Redis; print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--cpu-ms", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ways = ("on the loop", "threads", "asyncio drivers")
    postgres = PostgresServer().start()
    with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        redis, redis_port = start_redis(Path(tmp))
        try:
            runs = [
                measure(way, postgres.port, redis_port, level, args.turns, args.cpu_ms)
                for level in parse_levels(args.levels)
                for _ in range(args.rounds)
                for way in ways
            ]
        finally:
            redis.stop()
            postgres.stop()
    rows = [
        median_of([run for run in runs if (run["way"], run["conversations"]) == (way, level)])
        for level in parse_levels(args.levels)
        for way in ways
    ]
    print(f"{'way':<16} {'conv':>4} {'turns/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'pg conns':>8}")
    for row in rows:
        print(
            f"{row['way']:<16} {row['conversations']:>4} {row['turns_per_s']:>8} {row['p50_ms']:>7} "
            f"{row['p95_ms']:>7} {row['postgres_connections']:>8}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu_ms_per_turn": args.cpu_ms, "rows": rows, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
