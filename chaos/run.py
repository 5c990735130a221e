"""One chaos run against a running cluster: per fault a steady load before, during and after it, then a row.

Per fault: once the cluster answers normally again (three refund questions in a row reach the backends), the load
runs `before_s`, the fault is injected, the load goes on for `fault_s` (a lasting fault is healed then), and for
`after_s` more. One conversation proposes an order's cancellation just before the fault and confirms it as the
fault strikes. The row counts what the
shoppers saw and what the stores kept. Before the next fault every member the fault touched is ready again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from actions import customer_token
from bench.conversations import Script
from bench.stats import percentile
from chaos import checks, load
from chaos.faults import Fault, wait_until_ready


@dataclass
class Row:
    """What one fault did, as `make chaos` prints it."""

    fault: str
    title: str
    sent: int
    answered: int
    unanswered: int
    apologies: int
    events_lost: int
    cancellations_asked: int
    cancellations_recorded: int
    duplicate_mutations: int
    p95_during_s: float
    p95_after_s: float
    recovery_s: float
    ready_again_s: float
    settled_before_s: float
    samples: list[str]

    @property
    def meets_targets(self) -> bool:
        """Every message answered, nothing lost or doubled, recovered within 10 s."""
        return (
            self.unanswered == 0 and self.events_lost == 0 and self.duplicate_mutations == 0 and self.recovery_s <= 10
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "meets_targets": self.meets_targets}


@dataclass(frozen=True)
class Budget:
    """How long and how hard each fault is driven (bounded: the run always ends by itself)."""

    before_s: float
    fault_s: float
    after_s: float
    shoppers: int
    think_s: float = 0.2
    turn_timeout_s: float = 30.0
    ready_timeout_s: float = 240.0


PROPOSAL_LEAD_S = 2.0  # the cancellation is proposed this long before the fault


def _p95(turns: list[load.TurnRecord]) -> float:
    return round(percentile([t.seconds for t in turns], 95) or 0.0, 3)


async def drive_fault(
    fault: Fault,
    state_reader: Callable[[], dict | None],
    webhook: str,
    scripts: list[Script],
    token_secret: str,
    order: tuple[str, str] | None,
    budget: Budget,
    seed: int,
) -> Row:
    """Load, inject, heal, load; then wait for the touched members and count what happened."""
    state = state_reader() or {}
    recorder = load.Recorder()
    stop = asyncio.Event()

    def issue(customer: str) -> str:
        return customer_token.issue(customer, secret=token_secret)

    async with load.client_session(budget.shoppers) as session:
        shoppers = [
            asyncio.create_task(
                load.shopper(
                    session, webhook, scripts, issue, recorder, stop, seed + i, budget.think_s, budget.turn_timeout_s
                )
            )
            for i in range(budget.shoppers)
        ]
        settled = await load.until_healthy(session, webhook, issue, budget.ready_timeout_s)
        await asyncio.sleep(max(0.0, budget.before_s - PROPOSAL_LEAD_S))
        # A cancellation proposed just before the fault and confirmed as it strikes: the mutation most at risk.
        proposed = await load.propose_cancellation(session, webhook, *order, issue, recorder) if order else None
        await asyncio.sleep(max(0.0, PROPOSAL_LEAD_S - 1.0))
        confirmation = asyncio.create_task(load.confirm(session, webhook, proposed, recorder)) if proposed else None
        await asyncio.sleep(0.05)
        injected = time.monotonic()
        await asyncio.to_thread(fault.inject, state)
        await asyncio.sleep(max(0.0, injected + budget.fault_s - time.monotonic()))
        healed = time.monotonic()
        if fault.heal:
            await asyncio.to_thread(fault.heal, state)
        await asyncio.sleep(budget.after_s)
        stop.set()
        await asyncio.gather(*shoppers)
        if confirmation:
            await confirmation
    ready_again = await asyncio.to_thread(wait_until_ready, state_reader, fault.members, budget.ready_timeout_s)
    turns = recorder.turns
    since = healed if fault.heal else injected
    degraded_ends = [t.finished for t in turns if t.degraded and t.finished >= injected]
    recovery = max(0.0, max(degraded_ends) - since) if degraded_ends else 0.0
    lost = await asyncio.to_thread(checks.events_lost, state["postgres_port"], turns)
    orders = [order[1]] if order and proposed else []
    recorded, duplicates = await asyncio.to_thread(checks.duplicate_refunds, state["postgres_port"], orders)
    unanswered = [t for t in turns if not t.answered]
    return Row(
        fault=fault.name,
        title=fault.title,
        sent=len(turns),
        answered=len(turns) - len(unanswered),
        unanswered=len(unanswered),
        apologies=sum(1 for t in turns if load.APOLOGY in t.reply.lower()),
        events_lost=lost,
        cancellations_asked=len(orders),
        cancellations_recorded=recorded,
        duplicate_mutations=duplicates,
        p95_during_s=_p95([t for t in turns if injected <= t.started < healed]),
        p95_after_s=_p95([t for t in turns if t.started >= healed]),
        recovery_s=round(recovery, 1),
        ready_again_s=round(ready_again, 1),
        settled_before_s=round(settled, 1),
        samples=[f"{t.text!r}: {t.error or f'HTTP {t.status}'}" for t in unanswered[:3]],
    )


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (docs/reliability.md shows one)."""
    head = (
        "| fault | sent | answered | unanswered | apologies | events lost | cancellations asked / recorded | "
        "duplicate mutations | p95 during (s) | p95 after (s) | recovered in (s) | targets |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    lines = [
        f"| {r.title} | {r.sent} | {r.answered} | {r.unanswered} | {r.apologies} | {r.events_lost} | "
        f"{r.cancellations_asked} / {r.cancellations_recorded} | {r.duplicate_mutations} | {r.p95_during_s:.2f} | "
        f"{r.p95_after_s:.2f} | {r.recovery_s:.1f} | {'met' if r.meets_targets else 'missed'} |"
        for r in rows
    ]
    return head + "\n".join(lines)
