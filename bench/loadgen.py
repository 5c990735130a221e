"""A bounded asyncio load generator for Rasa's REST webhook (loopback only).

`concurrency` conversations run at once; each sends its turns one after another (a shopper waits for the
answer before typing), and the level ends when the fixed list of conversations is done: it always stops by
itself. Requests go round-robin over the replica URLs, one request at a time, so consecutive turns of one
conversation may land on different replicas: that is what the shared tracker store and lock store are for.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import aiohttp

from bench.conversations import Conversation

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class LevelResult:
    concurrency: int
    conversations: int
    messages: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    by_turn: dict[str, list[float]] = field(default_factory=dict)  # "script#turn: text" -> latencies
    wall_s: float = 0.0
    backend_s: list[float] = field(default_factory=list)  # per turn, with a backend probe (one at a time)

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


def check_loopback(urls: list[str]) -> None:
    for url in urls:
        if urlparse(url).hostname not in LOOPBACK:
            raise ValueError(f"the load generator only talks to loopback addresses, not {url}")


def _reply_text(messages) -> str:
    return "\n".join(
        str(m.get("text") or "") + " " + " ".join(b.get("title", "") for b in m.get("buttons") or []) for m in messages
    ).lower()


async def _run_conversation(
    session: aiohttp.ClientSession,
    urls,
    conversation: Conversation,
    result: LevelResult,
    timeout_s: float,
    backend_probe: Callable[[], float] | None = None,
) -> None:
    for index, turn in enumerate(conversation.script.turns):
        url = next(urls)
        body = {"sender": conversation.sender, "message": turn.text}
        if conversation.metadata:
            body["metadata"] = conversation.metadata
        backend_before = backend_probe() if backend_probe else 0.0
        started = time.perf_counter()
        problem: str | None = None
        try:
            async with session.post(
                f"{url}/webhooks/rest/webhook", json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                payload = await response.json(content_type=None)
                reply = _reply_text(payload)
                if response.status != 200:
                    problem = f"HTTP {response.status}"
                elif turn.expect and turn.expect not in reply:
                    problem = f"{conversation.script.name}: {turn.text!r} -> no {turn.expect!r} in {reply[:120]!r}"
                elif not payload:
                    problem = f"{conversation.script.name}: {turn.text!r} -> empty reply"
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - started
        if backend_probe:
            result.backend_s.append(backend_probe() - backend_before)
        result.messages += 1
        result.latencies_s.append(elapsed)
        result.by_turn.setdefault(f"{conversation.script.name}#{index + 1}: {turn.text}", []).append(elapsed)
        if problem:
            result.errors += 1
            if len(result.error_samples) < 5:
                result.error_samples.append(problem)


async def run_level(
    urls: list[str],
    conversations: list[Conversation],
    concurrency: int,
    timeout_s: float = 60.0,
    backend_probe: Callable[[], float] | None = None,
) -> LevelResult:
    """Replay `conversations`, at most `concurrency` at a time; returns counts, latencies and wall time.

    `backend_probe` (one conversation at a time only) returns the backends' busy seconds so far; read before
    and after each turn, it gives the turn's own backend time (`LevelResult.backend_s`), outside the timing.
    """
    check_loopback(urls)
    if backend_probe and concurrency != 1:
        raise ValueError("a backend probe attributes time to turns only when they run one at a time")
    result = LevelResult(concurrency=concurrency, conversations=len(conversations))
    queue: asyncio.Queue = asyncio.Queue()
    for conversation in conversations:
        queue.put_nowait(conversation)
    rotation = itertools.cycle(urls)
    connector = aiohttp.TCPConnector(limit=concurrency * 2, limit_per_host=0)

    async def worker(session):
        while True:
            try:
                conversation = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await _run_conversation(session, rotation, conversation, result, timeout_s, backend_probe)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - started
    return result


def run_level_sync(
    urls: list[str],
    conversations: list[Conversation],
    concurrency: int,
    timeout_s: float = 60.0,
    backend_probe: Callable[[], float] | None = None,
) -> LevelResult:
    return asyncio.run(run_level(urls, conversations, concurrency, timeout_s, backend_probe))


async def _warm(urls: list[str], conversations: list[Conversation]) -> dict[str, int]:
    result = await run_level(urls, conversations, concurrency=1)
    return {"messages": result.messages, "errors": result.errors}


def warm_up(urls: list[str], conversations: list[Conversation]) -> dict[str, int]:
    """A few conversations before measuring: first requests pay for lazy imports and TF graph tracing."""
    return asyncio.run(_warm(urls, conversations))
