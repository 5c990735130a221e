"""The stores' threads run a call off the event loop, in the caller's context."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from conversation_stores.blocking import BlockingCalls
from foundation import correlation

LABEL = contextvars.ContextVar("label", default="none")


def test_a_call_runs_on_a_store_thread_with_the_callers_context_variables():
    calls = BlockingCalls(2, "test-store")

    def seen() -> tuple[str, str, str | None]:
        return threading.current_thread().name, LABEL.get(), correlation.get()

    async def turn(label: str, correlation_id: str) -> tuple[str, str, str | None]:
        LABEL.set(label)
        with correlation.bound(correlation_id):
            return await calls.run(seen)

    async def both():
        return await asyncio.gather(turn("first", "correlation-first-1"), turn("second", "correlation-second-2"))

    try:
        first, second = asyncio.run(both())
    finally:
        calls.close()
    assert first[0].startswith("test-store") and second[0].startswith("test-store")
    assert first[1:] == ("first", "correlation-first-1") and second[1:] == ("second", "correlation-second-2")


def test_without_threads_the_call_runs_on_the_callers_thread():
    calls = BlockingCalls(0, "inline")
    assert asyncio.run(calls.run(threading.current_thread)) is threading.main_thread()
