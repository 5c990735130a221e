"""A platform's message accepted once and answered after the webhook has acknowledged it.

Slack gives a webhook 3 seconds, Teams and Twilio 15; a turn plus its replies (with `channels/delivery.py`'s
retries) can take longer. So each connector, once the request is authentic, asks `Turns.start`: a duplicate
delivery (`channels/dedup.py`) is not processed; any other is run as a background task that the connector does not
wait for, and the webhook answers 2xx at once. The task is kept referenced until it ends (an unreferenced asyncio
task can be collected mid-turn). When it ends the event id is marked done; when the turn raised, the id is released
so that the platform's retry is processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.dedup import SeenEvents
from foundation.conversation_ref import conversation_ref

log = logging.getLogger("channels.inbound")

_SEEN: SeenEvents | None = None


def seen_events() -> SeenEvents:
    """The process's one store of event ids, shared by every channel (built from ChannelSettings on first use)."""
    global _SEEN
    if _SEEN is None:
        _SEEN = SeenEvents.from_settings()
        log.info("event dedup: %s", "in this process and Redis" if _SEEN.shared else "in this process only")
    return _SEEN


class Turns:
    """One channel's turns: started once per event id, run after the acknowledgement, never dropped mid-way."""

    def __init__(self, channel: str, seen: SeenEvents | None = None) -> None:
        self.channel = channel
        self._seen = seen
        self._running: set[asyncio.Task[None]] = set()

    @property
    def seen(self) -> SeenEvents:
        """The event-id store (the process's shared one unless another was given)."""
        if self._seen is None:
            self._seen = seen_events()
        return self._seen

    async def start(self, event_id: str | None, conversation: str, turn: Callable[[], Awaitable[object]]) -> bool:
        """Run `turn` in the background unless `event_id` was already claimed or processed; False for a duplicate.

        An event without an id (a Slack button click, for one) cannot be told apart from its retries and is run."""
        if event_id and not await self.seen.claim(self.channel, event_id):
            log.info(
                "duplicate delivery acknowledged, not processed",
                extra={"channel": self.channel, "event_id": event_id, "conversation": conversation_ref(conversation)},
            )
            return False
        task = asyncio.create_task(self._run(event_id, conversation, turn))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return True

    async def _run(self, event_id: str | None, conversation: str, turn: Callable[[], Awaitable[object]]) -> None:
        try:
            await turn()
        except Exception as error:
            log.error(
                "turn failed; a retry of its event will be processed",
                extra={
                    "channel": self.channel,
                    "event_id": event_id,
                    "conversation": conversation_ref(conversation),
                    "error": type(error).__name__,
                },
                exc_info=True,
            )
            if event_id:
                await self.seen.release(self.channel, event_id)
            return
        if event_id:
            await self.seen.done(self.channel, event_id)

    async def drain(self) -> None:
        """Wait for the turns still running (for a clean shutdown, and tests)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
