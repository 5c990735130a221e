"""A steady closed-loop load through the cluster's nginx, every turn recorded with its time and its answer.

`concurrency` shoppers each replay the serving benchmark's conversations (bench/conversations.yml), one turn
after another, each conversation under a new unguessable sender (a logged-in shopper's token in its metadata
where the script names one), until told to stop. `cancel_order` runs one conversation that cancels an order and
confirms, so the shop's records can be checked for duplicates afterwards. Loopback only, bounded by the caller.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import aiohttp

from bench.conversations import Script

APOLOGY = "something went wrong on our side"
BACKEND_DOWN = "isn't answering right now"
PROPOSAL = "shall i cancel it?"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class TurnRecord:
    """One shopper turn as the shopper saw it: when it was sent and answered, and what came back."""

    sender: str
    text: str
    started: float
    finished: float
    status: int = 0
    reply: str = ""
    error: str = ""

    @property
    def answered(self) -> bool:
        return self.status == 200 and bool(self.reply.strip())

    @property
    def degraded(self) -> bool:
        """Unanswered, or answered with an apology for a failure on our side."""
        lowered = self.reply.lower()
        return not self.answered or APOLOGY in lowered or BACKEND_DOWN in lowered

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class Recorder:
    """Every turn of a run, in the order they finished."""

    turns: list[TurnRecord] = field(default_factory=list)


def _reply_text(messages: object) -> str:
    if not isinstance(messages, list):
        return ""
    return "\n".join(str(m.get("text") or "") for m in messages if isinstance(m, dict))


async def say(
    session: aiohttp.ClientSession,
    webhook: str,
    sender: str,
    text: str,
    metadata: dict,
    recorder: Recorder,
    timeout_s: float,
) -> TurnRecord:
    """Send one turn and record it, whatever happens (a timeout or a refused connection is an unanswered turn)."""
    body: dict = {"sender": sender, "message": text}
    if metadata:
        body["metadata"] = metadata
    record = TurnRecord(sender, text, time.monotonic(), 0.0)
    try:
        async with session.post(webhook, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            record.status = response.status
            record.reply = _reply_text(await response.json(content_type=None))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        record.error = f"{type(error).__name__}: {error}"
    record.finished = time.monotonic()
    recorder.turns.append(record)
    return record


async def shopper(
    session: aiohttp.ClientSession,
    webhook: str,
    scripts: list[Script],
    issue: Callable[[str], str],
    recorder: Recorder,
    stop: asyncio.Event,
    seed: int,
    think_s: float,
    timeout_s: float,
) -> None:
    """One shopper: conversation after conversation until `stop` is set (the turn in flight is finished)."""
    rng = random.Random(seed)
    while not stop.is_set():
        script = rng.choices(scripts, weights=[s.weight for s in scripts])[0]
        sender = secrets.token_urlsafe(24)
        metadata = {"customer_token": issue(script.token)} if script.token else {}
        for turn in script.turns:
            if stop.is_set():
                return
            await say(session, webhook, sender, turn.text, metadata, recorder, timeout_s)
            metadata = {}  # the token vouches once, at the conversation's start
            await asyncio.sleep(think_s)


async def propose_cancellation(
    session: aiohttp.ClientSession,
    webhook: str,
    customer: str,
    order: str,
    issue: Callable[[str], str],
    recorder: Recorder,
) -> str | None:
    """Ask to cancel `order` as its logged-in customer; the conversation's sender once the assistant asks to
    confirm, else None."""
    sender = secrets.token_urlsafe(24)
    proposal = await say(
        session, webhook, sender, f"please cancel order {order}", {"customer_token": issue(customer)}, recorder, 60
    )
    return sender if PROPOSAL in proposal.reply.lower() else None


async def confirm(session: aiohttp.ClientSession, webhook: str, sender: str, recorder: Recorder) -> TurnRecord:
    """Say yes to the proposed change: a cancellation the shop must then record exactly once."""
    return await say(session, webhook, sender, "yes please", {}, recorder, 60)


async def until_healthy(
    session: aiohttp.ClientSession, webhook: str, issue: Callable[[str], str], timeout_s: float, in_a_row: int = 3
) -> float:
    """Seconds until `in_a_row` fresh conversations in a row get a real answer about a refund (backends reached,
    no apology); TimeoutError after `timeout_s`. Each fault starts from a healthy cluster."""
    started = time.monotonic()
    healthy = 0
    scratch = Recorder()
    while healthy < in_a_row:
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"the cluster did not answer normally again within {timeout_s:.0f} s")
        sender = secrets.token_urlsafe(24)
        turn = await say(
            session, webhook, sender, "where is my refund?", {"customer_token": issue("C1001")}, scratch, 30
        )
        healthy = healthy + 1 if not turn.degraded and "refund" in turn.reply.lower() else 0
        if not healthy:
            await asyncio.sleep(1)
    return time.monotonic() - started


def client_session(concurrency: int) -> aiohttp.ClientSession:
    """One HTTP client for the whole run, with a connection per shopper."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency + 4))


def checked_webhook(url: str) -> str:
    """The REST webhook behind `url`, refused unless it is a loopback address."""
    if urlparse(url).hostname not in LOOPBACK:
        raise ValueError(f"the chaos load only talks to loopback addresses, not {url}")
    return f"{url.rstrip('/')}/webhooks/rest/webhook"
